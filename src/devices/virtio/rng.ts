// virtio-rng (virtio 1.x §5.4): one request queue; the device fills each writable
// buffer with random bytes. Host randomness (crypto.randomFillSync) normally; in
// deterministic mode a seeded xoshiro128** generator, so the guest sees the same
// bytes every run.

import { randomFillSync } from 'node:crypto';
import { VIRTIO_ID_RNG } from './constants';
import { VirtioDevice, type VirtioContext } from './device';

/** Largest fill per request: a driver asking for more gets this much (the used length says so). */
const MAX_FILL = 64 * 1024;

/** xoshiro128** (Blackman & Vigna), seeded through splitmix32. */
export class SeededRandom {
  private readonly s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  next(): number {
    const s = this.s;
    let s0 = s[0]!, s1 = s[1]!, s2 = s[2]!, s3 = s[3]!;
    const r = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3 >>> 0, 11);
    s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3;
    return r;
  }

  fill(dst: Uint8Array): void {
    for (let i = 0; i < dst.length; i += 4) {
      const v = this.next();
      for (let k = 0; k < 4 && i + k < dst.length; k++) dst[i + k] = (v >>> (8 * k)) & 0xff;
    }
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class VirtioRng extends VirtioDevice {
  readonly name = 'rng';
  readonly deviceId = VIRTIO_ID_RNG;
  readonly numQueues = 1;
  readonly features = 0;
  readonly config = new Uint8Array(0);
  private readonly prng: SeededRandom | null;
  readonly stats = { bytes: 0 };

  /** `seed` given: the deterministic generator; otherwise host randomness. */
  constructor(ctx: VirtioContext, seed?: number) {
    super(ctx);
    this.prng = seed === undefined ? null : new SeededRandom(seed);
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
