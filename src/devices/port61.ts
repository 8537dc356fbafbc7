// System control port B (0x61) of the PC/AT: bit 0 = timer 2 GATE, bit 1 = speaker
// data enable, bits 2/3 = parity/channel check enables (stored), bit 4 = refresh
// request toggle, bit 5 = timer 2 OUT. Linux calibrates the TSC by gating channel 2
// here and polling bit 5 (arch/x86/kernel/tsc.c, pit_calibrate_tsc).

import type { AccessSize } from '../cpu/interfaces';
import type { Clock } from '../aio/clock';
import type { IoBus } from './bus';
import { checkState, type Device, type DeviceState } from './device';
import type { Pit } from './pit';

/** The refresh toggle flips every 15.085 µs on the AT (one DRAM refresh cycle). */
const REFRESH_NS = 15_085;

export interface Port61State extends DeviceState {
  device: 'port61';
  version: 1;
  control: number;
}

export class SystemControlPortB implements Device<Port61State> {
  readonly name = 'port61';
  private control = 0;

  constructor(
    private readonly pit: Pit,
    private readonly clock: Clock,
  ) {}

  reset(): void {
    this.control = 0;
    this.pit.setGate2(false);
  }

  /** The PC speaker sounds while timer 2 is gated and speaker data is enabled. */
  get speakerEnabled(): boolean {
    return (this.control & 3) === 3;
  }

  attach(bus: IoBus): void {
    bus.registerPorts('port61', 0x61, 1, {
      read: () => this.value(),
      peek: () => this.value(),
      write: (_o, _s: AccessSize, v) => {
        this.control = v & 0x0f;
        this.pit.setGate2((v & 1) !== 0);
      },
    }, { sizes: 1 });
  }

  private value(): number {
    const refresh = Math.floor(this.clock.now() / REFRESH_NS) & 1;
    return this.control | (refresh << 4) | (this.pit.out(2) ? 0x20 : 0);
  }

  saveState(): Port61State {
    return { device: 'port61', version: 1, control: this.control };
  }

  loadState(s: Port61State): void {
    checkState(s, 'port61', 1);
    this.control = s.control;
  }
}
