// The legacy PC platform devices on one bus, wired the way a PC/AT with a PIIX
// south bridge and one local APIC wires them. The Machine (and the test helper
// test/helpers/mini-pc.ts) builds one of these and connects the CPU to
// `interruptLine`, `lapic` (MsrHandler) and `bus` (PortIo + MmioIo).

import type { AioContext } from '../aio/aio-context';
import { A20Gate, SystemControlPortA } from './a20';
import { IoBus } from './bus';
import { type CharBackend, NullCharBackend } from './chardev';
import { DebugConsole } from './debug-console';
import { IsaDebugExit } from './debug-exit';
import type { Device, DeviceState } from './device';
import { FwCfg } from './fw-cfg';
import { I8042 } from './i8042';
import { CpuInterruptLine } from './interrupt-line';
import { LocalApic } from './local-apic';
import { PciHost } from './pci';
import { PicPair } from './pic';
import { Pit } from './pit';
import { SystemControlPortB } from './port61';
import { PostCodePort } from './post-code';
import { Rtc } from './rtc';
import { Uart16550 } from './uart16550';

export interface PcPlatformOptions {
  aio: AioContext;
  ramBytes: number;
  cpus?: number;
  bus?: IoBus;
  com1?: CharBackend;
  com2?: CharBackend;
  debugcon?: CharBackend;
  /** Unix seconds of the RTC at clock time 0 (default 2000-01-01). */
  rtcEpochSeconds?: number;
  /** The guest wrote to isa-debug-exit: stop with this status. */
  onExit?: (status: number) => void;
  /** The guest asked for a machine reset (i8042 0xFE, port 0x92 bit 0). */
  onReset?: () => void;
}

export class PcPlatform {
  readonly bus: IoBus;
  readonly pic = new PicPair();
  readonly pit: Pit;
  readonly port61: SystemControlPortB;
  readonly rtc: Rtc;
  readonly com1: Uart16550;
  readonly com2: Uart16550;
  readonly a20 = new A20Gate();
  readonly port92: SystemControlPortA;
  readonly kbc: I8042;
  readonly post = new PostCodePort();
  readonly debugExit: IsaDebugExit;
  readonly debugcon: DebugConsole;
  readonly fwCfg: FwCfg;
  readonly pci: PciHost;
  readonly lapic: LocalApic;
  readonly interruptLine: CpuInterruptLine;

  constructor(opts: PcPlatformOptions) {
    const { aio } = opts;
    this.bus = opts.bus ?? new IoBus();
    const onReset = opts.onReset ?? (() => {});
    this.pit = new Pit(aio, this.pic.irqLine(0));
    this.port61 = new SystemControlPortB(this.pit, aio.clock);
    this.rtc = new Rtc(aio, this.pic.irqLine(8), { epochSeconds: opts.rtcEpochSeconds });
    this.rtc.setMemorySize(opts.ramBytes);
    this.rtc.setCpuCount(opts.cpus ?? 1);
    this.com1 = new Uart16550('com1', aio, this.pic.irqLine(4), opts.com1 ?? new NullCharBackend());
    this.com2 = new Uart16550('com2', aio, this.pic.irqLine(3), opts.com2 ?? new NullCharBackend());
    this.port92 = new SystemControlPortA(this.a20, onReset);
    this.kbc = new I8042(this.pic.irqLine(1), this.pic.irqLine(12), this.a20, onReset);
    this.debugExit = new IsaDebugExit(opts.onExit ?? (() => {}));
    this.debugcon = new DebugConsole(opts.debugcon ?? new NullCharBackend());
    this.fwCfg = new FwCfg({ ramBytes: opts.ramBytes, cpus: opts.cpus ?? 1 });
    this.pci = new PciHost(this.bus);
    this.lapic = new LocalApic(aio, { id: 0, bsp: true });
    this.interruptLine = new CpuInterruptLine(this.pic, this.lapic);
    // LINT0 is wired to the 8259 INTR output (fixed/NMI modes go through the APIC).
    this.pic.onIntrChange = (level) => this.lapic.setLint(0, level);

    const b = this.bus;
    this.pic.attach(b);
    this.pit.attach(b);
    this.port61.attach(b);
    this.rtc.attach(b);
    this.com1.attach(b, 0x3f8);
    this.com2.attach(b, 0x2f8);
    this.port92.attach(b);
    this.kbc.attach(b);
    this.post.attach(b);
    this.debugExit.attach(b);
    this.debugcon.attach(b);
    this.fwCfg.attach(b);
    this.pci.attach(b);
    this.lapic.attach(b);
  }

  /**
   * Devices the machine adds beyond the fixed set (the virtio functions); they come
   * last in devices(), so they restore after the PCI host's config spaces.
   */
  readonly extraDevices: Device<DeviceState>[] = [];

  /** Every device, for reset and snapshots, in a fixed order. */
  devices(): Device<DeviceState>[] {
    return [
      this.pic, this.pit, this.port61, this.rtc, this.com1, this.com2, this.port92, this.kbc, this.post,
      this.debugExit, this.debugcon, this.fwCfg, this.pci, this.lapic, ...this.extraDevices,
    ] as unknown as Device<DeviceState>[];
  }

  /** Push out serial output still in transmit FIFOs (call when the machine stops). */
  flushOutput(): void {
    this.com1.flush();
    this.com2.flush();
  }

  reset(): void {
    for (const d of this.devices()) d.reset();
    this.a20.set(true);
  }

  saveState(): Record<string, DeviceState> {
    const out: Record<string, DeviceState> = {};
    for (const d of this.devices()) out[d.name] = d.saveState();
    return out;
  }

  loadState(s: Record<string, DeviceState>): void {
    for (const d of this.devices()) {
      const st = s[d.name];
      if (!st) throw new Error(`PcPlatform.loadState: no state for ${d.name}`);
      d.loadState(st);
    }
  }
}
