// virtio-blk (virtio 1.x §5.2): one request queue; requests are a 16-byte header
// (type, reserved, sector), data, and a status byte in the last writable byte.
// Requests are served outside the notify path (DeferredWork: a bottom half, or a fixed
// virtual delay in deterministic mode) straight between guest RAM and the image file.

import { basename } from 'node:path';
import { VIRTIO_ID_BLOCK, featureBit } from './constants';
import type { VirtqChain } from './chain';
import { DeferredWork, VirtioDevice, type VirtioContext } from './device';
import { type DiskImage, SECTOR } from './disk-image';
import { VirtioGuestError } from './guest-ram';

/** Feature bits (§5.2.3). */
export const BLK_F_SIZE_MAX = 1, BLK_F_SEG_MAX = 2, BLK_F_RO = 5, BLK_F_BLK_SIZE = 6, BLK_F_FLUSH = 9, BLK_F_DISCARD = 13, BLK_F_WRITE_ZEROES = 14;
/** Request types and status values (§5.2.6). */
export const BLK_T_IN = 0, BLK_T_OUT = 1, BLK_T_FLUSH = 4, BLK_T_GET_ID = 8, BLK_T_DISCARD = 11, BLK_T_WRITE_ZEROES = 13;
export const BLK_S_OK = 0, BLK_S_IOERR = 1, BLK_S_UNSUPP = 2;
const ID_BYTES = 20;
const SIZE_MAX = 1 << 20;
const MAX_DISCARD_SECTORS = 1 << 22;
const ZERO_CHUNK = new Uint8Array(64 * 1024);

export class VirtioBlk extends VirtioDevice {
  readonly name: string;
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly numQueues = 1;
  readonly features: number;
  readonly config = new Uint8Array(60);
  private readonly work: DeferredWork;
  private readonly id: Uint8Array;
  /** Requests served and bytes moved (for --stats and tests). */
  readonly stats = { requests: 0, readBytes: 0, writeBytes: 0, flushes: 0, errors: 0 };

  constructor(ctx: VirtioContext, readonly image: DiskImage, name = 'blk') {
    super(ctx);
    this.name = name;
    this.features = featureBit(BLK_F_SIZE_MAX) + featureBit(BLK_F_SEG_MAX) + featureBit(BLK_F_BLK_SIZE) + featureBit(BLK_F_FLUSH)
      + featureBit(BLK_F_DISCARD) + featureBit(BLK_F_WRITE_ZEROES) + (image.readOnly ? featureBit(BLK_F_RO) : 0);
    // Config layout (§5.2.4): capacity, size_max, seg_max, geometry, blk_size, topology,
    // writeback, num_queues, then the discard and write-zeroes limits.
    const d = new DataView(this.config.buffer);
    d.setUint32(0, image.sectors % 2 ** 32, true);
    d.setUint32(4, Math.floor(image.sectors / 2 ** 32), true);
    d.setUint32(8, SIZE_MAX, true);
    d.setUint32(12, this.queueMaxSize - 2, true);
    d.setUint32(20, SECTOR, true);
    d.setUint16(34, 1, true);
    d.setUint32(36, MAX_DISCARD_SECTORS, true);
    d.setUint32(40, 1, true);
    d.setUint32(44, 1, true);
    d.setUint32(48, MAX_DISCARD_SECTORS, true);
    d.setUint32(52, 1, true);
    this.id = new TextEncoder().encode(basename(image.path)).subarray(0, ID_BYTES);
    this.work = new DeferredWork(ctx, () => this.process(), `${name}-requests`);
  }

  queueNotify(): void {
    this.work.schedule();
  }

  override reset(): void {
    this.work.cancel();
  }

  override close(): void {
    this.image.close();
  }

  /** Serves every available request, then interrupts once (if the driver wants it). */
  private process(): void {
    this.guarded(() => {
      if (!this.port.live) return;
      const q = this.port.queue(0);
      for (let chain = q.pop(); chain; chain = q.pop()) {
        q.push(chain.head, this.handle(chain));
        this.stats.requests++;
      }
      this.port.signalUsed(q);
    });
  }

  /** Serves one request; returns the bytes written into the chain (data + status). */
  private handle(chain: VirtqChain): number {
    const ram = this.ctx.ram;
    if (chain.readLen < 16 || chain.writeLen < 1) throw new VirtioGuestError(`virtio-blk request (head ${chain.head}) without a 16-byte header and a status byte: ${chain.readLen} readable, ${chain.writeLen} writable bytes`);
    const hdr = new DataView(chain.gather(ram, 0, 16).buffer);
    const type = hdr.getUint32(0, true);
    const sector = hdr.getUint32(12, true) * 2 ** 32 + hdr.getUint32(8, true);
    const dataIn = chain.writeLen - 1, dataOut = chain.readLen - 16;
    let status = BLK_S_OK, written = 0;
    try {
      switch (type) {
        case BLK_T_IN: {
          const pos = sector * SECTOR;
          if (dataIn % SECTOR || !this.image.inRange(pos, dataIn)) { status = BLK_S_IOERR; break; }
          let at = pos;
          chain.writeViews(ram, 0, dataIn, (v) => { this.image.read(v, at); at += v.length; });
          written = dataIn;
          this.stats.readBytes += dataIn;
          break;
        }
        case BLK_T_OUT: {
          const pos = sector * SECTOR;
          // Read-only: refused here, before any byte reaches the file (which is open O_RDONLY anyway).
          if (this.image.readOnly || dataOut % SECTOR || !this.image.inRange(pos, dataOut)) { status = BLK_S_IOERR; break; }
          let at = pos;
          chain.readViews(ram, 16, dataOut, (v) => { this.image.write(v, at); at += v.length; });
          this.stats.writeBytes += dataOut;
          break;
        }
        case BLK_T_FLUSH:
          this.image.flush();
          this.stats.flushes++;
          break;
        case BLK_T_GET_ID: {
          const id = new Uint8Array(ID_BYTES);
          id.set(this.id);
          written = chain.scatter(ram, 0, id.subarray(0, Math.min(ID_BYTES, dataIn)));
          break;
        }
        case BLK_T_DISCARD:
        case BLK_T_WRITE_ZEROES:
          status = this.discardOrZero(chain, type, dataOut);
          break;
        default:
          status = BLK_S_UNSUPP;
      }
    } catch (e) {
      if (e instanceof VirtioGuestError) throw e;
      // A host I/O failure (EIO, ENOSPC, ...) is the guest's I/O error, not the emulator's.
      status = BLK_S_IOERR;
    }
    if (status !== BLK_S_OK) this.stats.errors++;
    chain.scatter(ram, dataIn, Uint8Array.of(status));
    return written + 1;
  }

  /** DISCARD / WRITE_ZEROES: 16-byte segments {sector, num_sectors, flags} (§5.2.6). */
  private discardOrZero(chain: VirtqChain, type: number, dataOut: number): number {
    if (dataOut === 0 || dataOut % 16) return BLK_S_IOERR;
    if (this.image.readOnly) return BLK_S_IOERR;
    const segs = new DataView(chain.gather(this.ctx.ram, 16, dataOut).buffer);
    for (let off = 0; off < dataOut; off += 16) {
      const sector = segs.getUint32(off + 4, true) * 2 ** 32 + segs.getUint32(off, true);
      const num = segs.getUint32(off + 8, true), flags = segs.getUint32(off + 12, true);
      if (num > MAX_DISCARD_SECTORS || !this.image.inRange(sector * SECTOR, num * SECTOR)) return BLK_S_IOERR;
      // The only flag is "unmap" (bit 0), meaningful for write-zeroes alone.
      if (flags & ~1 || (type === BLK_T_DISCARD && flags)) return BLK_S_UNSUPP;
      // Discard is a hint: Node has no portable hole punch (fallocate), so the blocks stay.
      if (type === BLK_T_DISCARD) continue;
      for (let done = 0; done < num * SECTOR; done += ZERO_CHUNK.length) {
        const n = Math.min(ZERO_CHUNK.length, num * SECTOR - done);
        this.image.write(ZERO_CHUNK.subarray(0, n), sector * SECTOR + done);
      }
    }
    return BLK_S_OK;
  }
}
