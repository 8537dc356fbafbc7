// virtio-rng (virtio 1.x §5.4): one request queue; the device fills each writable
// buffer with random bytes. Host randomness (crypto.randomFillSync) normally; in
// deterministic runs the machine's seeded PRNG (Machine.random, saved in snapshots),
// so the guest sees the same bytes every run.

import { randomFillSync } from 'node:crypto';
import { VIRTIO_ID_RNG } from './constants';
import { VirtioDevice, type VirtioContext } from './device';

/** Largest fill per request: a driver asking for more gets this much (the used length says so). */
const MAX_FILL = 64 * 1024;

/** Where random bytes come from when the run must be reproducible (the machine's seeded PRNG). */
export interface RandomSource {
  fill(buf: Uint8Array): void;
}

export class VirtioRng extends VirtioDevice {
  readonly name = 'rng';
  readonly deviceId = VIRTIO_ID_RNG;
  readonly numQueues = 1;
  readonly features = 0;
  readonly config = new Uint8Array(0);
  readonly stats = { bytes: 0 };

  /** `prng` given: bytes from it (reproducible); otherwise host randomness. */
  constructor(ctx: VirtioContext, private readonly prng: RandomSource | null = null) {
    super(ctx);
  }

  queueNotify(): void {
    this.guarded(() => {
      if (!this.port.live) return;
      const q = this.port.queue(0);
      for (let c = q.pop(); c; c = q.pop()) {
        const n = Math.min(c.writeLen, MAX_FILL);
        c.writeViews(this.ctx.ram, 0, n, (v) => this.fillRandom(v));
        this.stats.bytes += n;
        q.push(c.head, n);
      }
      this.port.signalUsed(q);
    });
  }

  fillRandom(v: Uint8Array): void {
    if (this.prng) this.prng.fill(v);
    else randomFillSync(v);
  }
}
