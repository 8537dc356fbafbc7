// The Bochs/QEMU "port 0xE9 hack" debug console: bytes written to port 0xE9 go to
// a character backend; reads return 0xE9 so a guest can detect the port.

import type { AccessSize } from '../cpu/interfaces';
import type { IoBus } from './bus';
import type { CharBackend } from './chardev';
import { checkState, type Device, type DeviceState } from './device';

export interface DebugConsoleState extends DeviceState {
  device: 'debugcon';
  version: 1;
}

export class DebugConsole implements Device<DebugConsoleState> {
  readonly name = 'debugcon';

  constructor(
    private readonly backend: CharBackend,
    readonly port = 0xe9,
  ) {}

  reset(): void {}

  attach(bus: IoBus): void {
    bus.registerPorts(this.name, this.port, 1, {
      read: () => 0xe9,
      peek: () => 0xe9,
      write: (_o, _s: AccessSize, v) => this.backend.write(Uint8Array.of(v & 0xff)),
    }, { sizes: 1 });
  }

  saveState(): DebugConsoleState {
    return { device: 'debugcon', version: 1 };
  }

  loadState(s: DebugConsoleState): void {
    checkState(s, 'debugcon', 1);
  }
}
