// QEMU's `isa-debug-exit` device (hw/misc/debugexit.c, documented in QEMU's
// device help: "-device isa-debug-exit,iobase=0xf4,iosize=0x04"): a guest write of
// value v ends the run with exit status (v << 1) | 1. Test kernels use it to report
// pass/fail through the emulator's exit code.

import type { AccessSize } from '../cpu/interfaces';
import type { IoBus } from './bus';
import { checkState, type Device, type DeviceState } from './device';

export interface DebugExitState extends DeviceState {
  device: 'isa-debug-exit';
  version: 1;
}

export class IsaDebugExit implements Device<DebugExitState> {
  readonly name = 'isa-debug-exit';

  constructor(
    /** Called with the exit status; the machine stops the run. */
    private readonly onExit: (status: number) => void,
    readonly port = 0xf4,
    readonly width: 1 | 2 | 4 = 4,
  ) {}

  reset(): void {}

  attach(bus: IoBus): void {
    bus.registerPorts(this.name, this.port, this.width, {
      read: () => 0xffffffff,
      peek: () => 0xffffffff,
      write: (_o, _s: AccessSize, v) => this.onExit(((v << 1) | 1) >>> 0),
    });
  }

  saveState(): DebugExitState {
    return { device: 'isa-debug-exit', version: 1 };
  }

  loadState(s: DebugExitState): void {
    checkState(s, 'isa-debug-exit', 1);
  }
}
