// A raw disk image file behind virtio-blk: opened read-only or read-write, sized in
// 512-byte sectors; container formats are recognised by their magic numbers and
// refused with a message naming the format (only raw images are supported).

import * as fs from 'node:fs';

/** A problem with a disk image the user named (missing, unreadable, wrong format). */
export class DiskImageError extends Error {}

export const SECTOR = 512;

/** Names the container format of an image from its first bytes, or null for raw. */
export function detectImageFormat(head: Uint8Array): string | null {
  const ascii = (off: number, len: number): string => String.fromCharCode(...head.subarray(off, off + len));
  const u32 = (off: number): number => (head.length >= off + 4 ? new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(off, true) : 0);
  if (ascii(0, 4) === 'QFI\xfb') return head[7] === 1 ? 'qcow' : 'qcow2';
  if (ascii(0, 4) === 'KDMV' || ascii(0, 4) === 'COWD' || ascii(0, 21) === '# Disk DescriptorFile') return 'vmdk';
  if (u32(0x40) === 0xbeda107f || (ascii(0, 3) === '<<<' && ascii(0, 64).includes('VirtualBox Disk Image'))) return 'vdi';
  if (ascii(0, 8) === 'vhdxfile') return 'vhdx';
  if (ascii(0, 8) === 'conectix') return 'vhd';
  if (ascii(0, 4) === 'QED\0') return 'qed';
  return null;
}

export class DiskImage {
  readonly sizeBytes: number;
  private fd: number;

  private constructor(readonly path: string, fd: number, readonly readOnly: boolean) {
    this.fd = fd;
    this.sizeBytes = fs.fstatSync(fd).size;
  }

  /** Opens `path` (O_RDONLY for `readOnly`, else O_RDWR); DiskImageError on any problem. */
  static open(path: string, readOnly: boolean): DiskImage {
    let fd: number;
    try {
      const st = fs.statSync(path);
      if (!st.isFile() && !st.isBlockDevice()) throw new DiskImageError(`disk image ${path}: not a regular file`);
      fd = fs.openSync(path, readOnly ? 'r' : 'r+');
    } catch (e) {
      if (e instanceof DiskImageError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? `cannot open it ${readOnly ? 'for reading' : 'for reading and writing (add ,ro for read-only)'}` : (e as Error).message;
      throw new DiskImageError(`disk image ${path}: ${why}`);
    }
    const img = new DiskImage(path, fd, readOnly);
    const head = new Uint8Array(SECTOR);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    const format = detectImageFormat(head.subarray(0, n));
    if (format) {
      img.close();
      throw new DiskImageError(`disk image ${path}: this is a ${format} image; ts86 takes raw images only (convert it: qemu-img convert -O raw ${path} disk.raw)`);
    }
    return img;
  }

  get sectors(): number {
    return Math.floor(this.sizeBytes / SECTOR);
  }

  /** Whether [pos, pos+len) is inside the image's whole sectors. */
  inRange(pos: number, len: number): boolean {
    return pos >= 0 && len >= 0 && pos + len <= this.sectors * SECTOR;
  }

  /** Reads into `dst` from byte `pos`; bytes past the end of the file read as zero. */
  read(dst: Uint8Array, pos: number): void {
    let off = 0;
    while (off < dst.length) {
      const n = fs.readSync(this.fd, dst, off, dst.length - off, pos + off);
      if (n <= 0) { dst.fill(0, off); return; }
      off += n;
    }
  }

  write(src: Uint8Array, pos: number): void {
    if (this.readOnly) throw new Error(`disk image ${this.path} is read-only`);
    let off = 0;
    while (off < src.length) off += fs.writeSync(this.fd, src, off, src.length - off, pos + off);
  }

  /** Makes written data durable (fsync(2)). */
  flush(): void {
    if (!this.readOnly) fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
