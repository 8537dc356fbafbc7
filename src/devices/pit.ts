// Intel 8254 PIT at ports 0x40-0x43. Channel 0 drives IRQ0, channel 1 (DRAM
// refresh on the PC) is modelled but unconnected, channel 2 feeds the speaker and
// its GATE and OUT are on system control port B (0x61, see port61.ts).

import type { AccessSize } from '../cpu/interfaces';
import type { AioContext } from '../aio/aio-context';
import type { Clock } from '../aio/clock';
import type { Timer } from '../aio/timer';
import type { IoBus } from './bus';
import { checkState, type Device, type DeviceState } from './device';
import { PitChannel, type PitChannelState } from './i8254-channel';
import type { IrqLine } from './irq';

export interface PitState extends DeviceState {
  device: 'i8254';
  version: 1;
  channels: PitChannelState[];
}

export class Pit implements Device<PitState> {
  readonly name = 'i8254';
  readonly channels = [new PitChannel(true), new PitChannel(true), new PitChannel(false)];
  private readonly clock: Clock;
  private readonly timer: Timer;

  constructor(
    aio: AioContext,
    private readonly irq0: IrqLine,
  ) {
    this.clock = aio.clock;
    this.timer = aio.newTimer(() => this.onEdgeTimer(), 'pit-ch0');
    this.reset();
  }

  reset(): void {
    for (const c of this.channels) c.reset();
    this.updateIrq();
  }

  attach(bus: IoBus): void {
    bus.registerPorts('pit', 0x40, 4, {
      read: (off) => this.read(off, true),
      peek: (off) => this.read(off, false),
      write: (off, _s: AccessSize, v) => this.write(off, v),
    }, { sizes: 1 });
  }

  private read(off: number, sideEffects: boolean): number {
    if (off === 3) return 0xff; // the control register is write-only
    const v = this.channels[off]!.readByte(this.clock.now(), sideEffects);
    if (sideEffects) this.updateIrq();
    return v;
  }

  private write(off: number, v: number): void {
    const now = this.clock.now();
    if (off < 3) {
      this.channels[off]!.writeCount(v, now);
    } else {
      const sc = v >> 6;
      if (sc === 3) {
        // Read-back command: bit 5 = !COUNT, bit 4 = !STATUS, bits 3-1 = CNT2..CNT0.
        for (let i = 0; i < 3; i++) {
          if (!(v & (2 << i))) continue;
          const c = this.channels[i]!;
          if (!(v & 0x10)) c.latchStatus(now);
          if (!(v & 0x20)) c.latchCount(now);
        }
      } else {
        const rw = (v >> 4) & 3;
        const c = this.channels[sc]!;
        if (rw === 0) c.latchCount(now); // counter latch command
        else c.setMode(rw, (v >> 1) & 7, (v & 1) !== 0);
      }
    }
    this.updateIrq();
  }

  /** GATE input of channel 2 (port 0x61 bit 0). */
  setGate2(level: boolean): void {
    this.channels[2]!.setGate(level, this.clock.now());
    this.updateIrq();
  }

  out(channel: number): boolean {
    return this.channels[channel]!.evaluate(this.clock.now()).out;
  }

  /** Time of the OUT edge the timer was armed for (-1 when none). */
  private scheduledEdgeNs = -1;

  /**
   * The timer for an OUT edge fired, possibly late (a host clock never fires exactly
   * on time). Drive OUT as it was at the edge instant first, so a pulse shorter than
   * the lateness — mode 2's one-clock low pulse is 838 ns — still reaches the PIC as
   * the edge it is, then bring OUT up to date.
   */
  private onEdgeTimer(): void {
    const at = this.scheduledEdgeNs;
    this.scheduledEdgeNs = -1;
    if (at >= 0 && at < this.clock.now()) this.irq0.set(this.channels[0]!.evaluate(at).out);
    this.updateIrq();
  }

  /** Drive IRQ0 from channel 0's OUT and arm a timer for its next edge. */
  updateIrq(): void {
    const now = this.clock.now();
    const ch0 = this.channels[0]!;
    this.irq0.set(ch0.evaluate(now).out);
    const next = ch0.nextEdgeNs(now);
    if (next < 0) { this.timer.del(); this.scheduledEdgeNs = -1; }
    else if (this.timer.expireNs !== next) { this.timer.mod(next); this.scheduledEdgeNs = next; }
  }

  saveState(): PitState {
    return { device: 'i8254', version: 1, channels: this.channels.map((c) => c.saveState()) };
  }

  loadState(s: PitState): void {
    checkState(s, 'i8254', 1);
    s.channels.forEach((c, i) => this.channels[i]!.loadState(c));
    this.updateIrq();
  }
}
