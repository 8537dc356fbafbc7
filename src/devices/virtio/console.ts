// virtio-console (virtio 1.x §5.3) with one port and no multiport: queue 0 receives
// (host input into guest buffers), queue 1 transmits (guest output). Linux shows it
// as hvc0. Output is written to the backend as the driver queues it (Linux spins on
// the transmit queue until the buffer comes back, so it is served at once); input
// waits in `pending` until the driver has posted receive buffers.

import type { CharBackend } from '../chardev';
import { VIRTIO_ID_CONSOLE } from './constants';
import { VirtioDevice, type VirtioContext } from './device';

const RX = 0, TX = 1;
/** Host input held while the guest has no receive buffers (bytes beyond this are dropped). */
const MAX_PENDING = 1 << 20;

export class VirtioConsole extends VirtioDevice {
  readonly name = 'console';
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly numQueues = 2;
  readonly features = 0;
  /** cols, rows, max_nr_ports, emerg_wr (§5.3.4); unused without F_SIZE / F_MULTIPORT. */
  readonly config = new Uint8Array(12);
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(ctx: VirtioContext, private readonly backend: CharBackend) {
    super(ctx);
    backend.setReceiver((d) => this.input(d));
  }

  private input(data: Uint8Array): void {
    if (this.pendingBytes + data.length > MAX_PENDING) return;
    this.pending.push(data.slice());
    this.pendingBytes += data.length;
    this.deliver();
  }

  queueNotify(index: number): void {
    if (index === TX) this.transmit();
    else if (index === RX) this.deliver();
  }

  override activate(): void {
    this.deliver();
  }

  override reset(): void {
    // Input typed before the driver is ready stays queued for it.
  }

  override saveExtra(): Record<string, unknown> {
    return { pending: this.pending.flatMap((c) => [...c]) };
  }

  override loadExtra(s: Record<string, unknown>): void {
    const bytes = Array.isArray(s.pending) ? Uint8Array.from(s.pending as number[]) : new Uint8Array(0);
    this.pending = bytes.length ? [bytes] : [];
    this.pendingBytes = bytes.length;
  }

  private transmit(): void {
    this.guarded(() => {
      if (!this.port.live) return;
      const q = this.port.queue(TX);
      for (let c = q.pop(); c; c = q.pop()) {
        c.readViews(this.ctx.ram, 0, c.readLen, (v) => this.backend.write(v.slice()));
        q.push(c.head, 0);
      }
      this.port.signalUsed(q);
    });
  }

  private deliver(): void {
    if (!this.transport || !this.port.live || this.pending.length === 0) return;
    this.guarded(() => {
      const q = this.port.queue(RX);
      if (!q.ready) return;
      while (this.pending.length) {
        const c = q.pop();
        if (!c) break;
        let off = 0;
        while (this.pending.length && off < c.writeLen) {
          const head = this.pending[0]!;
          const n = c.scatter(this.ctx.ram, off, head);
          off += n;
          this.pendingBytes -= n;
          if (n < head.length) this.pending[0] = head.subarray(n);
          else this.pending.shift();
        }
        q.push(c.head, off);
      }
      this.port.signalUsed(q);
    });
  }
}
