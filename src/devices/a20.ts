// The A20 gate and "system control port A" (0x92, PS/2 fast A20 and fast reset).
// Two sources drive A20 on a PC: the i8042 output port bit 1 and port 0x92 bit 1.
// Here they share one A20Gate; the memory system reads `enabled` (or subscribes
// to `onChange`) to mask physical address bit 20.

import type { AccessSize } from '../cpu/interfaces';
import type { IoBus } from './bus';
import { checkState, type Device, type DeviceState } from './device';

export class A20Gate {
  private on = true;
  onChange: ((enabled: boolean) => void) | undefined;

  get enabled(): boolean {
    return this.on;
  }

  set(enabled: boolean): void {
    if (enabled === this.on) return;
    this.on = enabled;
    this.onChange?.(enabled);
  }
}

export interface Port92State extends DeviceState {
  device: 'port92';
  version: 1;
  value: number;
}

export class SystemControlPortA implements Device<Port92State> {
  readonly name = 'port92';
  private value = 0;

  constructor(
    private readonly a20: A20Gate,
    /** Bit 0 written 1: fast reset of the CPU (the machine resets). */
    private readonly onReset: () => void,
  ) {}

  reset(): void {
    this.value = 0;
  }

  attach(bus: IoBus): void {
    bus.registerPorts(this.name, 0x92, 1, {
      read: () => this.read(),
      peek: () => this.read(),
      write: (_o, _s: AccessSize, v) => {
        const old = this.value;
        this.value = v & ~1;
        this.a20.set((v & 2) !== 0);
        // Fast reset on a 0 -> 1 transition of bit 0.
        if (v & 1 && !(old & 1)) this.onReset();
      },
    }, { sizes: 1 });
  }

  private read(): number {
    return (this.value & ~2) | (this.a20.enabled ? 2 : 0);
  }

  saveState(): Port92State {
    return { device: 'port92', version: 1, value: this.value };
  }

  loadState(s: Port92State): void {
    checkState(s, 'port92', 1);
    this.value = s.value;
  }
}
