// Port 0x80, the POST diagnostic port: firmware and kernels write progress codes
// here (Linux also uses it as an I/O delay). Codes are recorded for tests and
// --stats; reads return the last code, like POST cards that latch it.

import type { AccessSize } from '../cpu/interfaces';
import type { IoBus } from './bus';
import { checkState, type Device, type DeviceState } from './device';

const HISTORY = 256;

export interface PostCodeState extends DeviceState {
  device: 'post-code';
  version: 1;
  last: number;
  history: number[];
  count: number;
}

export class PostCodePort implements Device<PostCodeState> {
  readonly name = 'post-code';
  last = 0;
  /** The most recent codes, oldest first (at most 256). */
  history: number[] = [];
  /** Total writes seen. */
  count = 0;
  onCode: ((code: number) => void) | undefined;

  reset(): void {
    this.last = 0;
    this.history = [];
    this.count = 0;
  }

  attach(bus: IoBus): void {
    bus.registerPorts(this.name, 0x80, 1, {
      read: () => this.last,
      peek: () => this.last,
      write: (_o, _s: AccessSize, v) => {
        this.last = v & 0xff;
        this.count++;
        this.history.push(this.last);
        if (this.history.length > HISTORY) this.history.shift();
        this.onCode?.(this.last);
      },
    }, { sizes: 1 });
  }

  saveState(): PostCodeState {
    return { device: 'post-code', version: 1, last: this.last, history: [...this.history], count: this.count };
  }

  loadState(s: PostCodeState): void {
    checkState(s, 'post-code', 1);
    this.last = s.last;
    this.history = [...s.history];
    this.count = s.count;
  }
}
