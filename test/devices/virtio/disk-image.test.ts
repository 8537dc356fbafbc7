// Disk images: raw accepted; qcow2/vmdk/vdi (and others) refused by name; missing files.
import { chmodSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DiskImage, DiskImageError, detectImageFormat } from '../../../src/devices/virtio/disk-image';
import { tempImage } from './pci-rig';

function withMagic(off: number, bytes: number[] | string): Uint8Array {
  const b = new Uint8Array(4096);
  b.set(typeof bytes === 'string' ? [...bytes].map((c) => c.charCodeAt(0)) : bytes, off);
  return b;
}

describe('DiskImage', () => {
  it('names container formats from their magic numbers', () => {
    expect(detectImageFormat(withMagic(0, [0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]))).toBe('qcow2');
    expect(detectImageFormat(withMagic(0, [0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 1]))).toBe('qcow');
    expect(detectImageFormat(withMagic(0, 'KDMV'))).toBe('vmdk');
    expect(detectImageFormat(withMagic(0, '# Disk DescriptorFile\n'))).toBe('vmdk');
    expect(detectImageFormat(withMagic(0x40, [0x7f, 0x10, 0xda, 0xbe]))).toBe('vdi');
    expect(detectImageFormat(withMagic(0, '<<< Oracle VM VirtualBox Disk Image >>>\n'))).toBe('vdi');
    expect(detectImageFormat(withMagic(0, 'vhdxfile'))).toBe('vhdx');
    expect(detectImageFormat(new Uint8Array(4096))).toBeNull();
    expect(detectImageFormat(new Uint8Array(0))).toBeNull();
  });

  it('refuses a qcow2 image with a message naming the format', () => {
    const p = tempImage(withMagic(0, [0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]), 'x.qcow2');
    expect(() => DiskImage.open(p, false)).toThrow(DiskImageError);
    expect(() => DiskImage.open(p, true)).toThrow(/is a qcow2 image; ts86 takes raw images only/);
  });

  it('a missing file or a directory is a clear error', () => {
    expect(() => DiskImage.open('/nonexistent/disk.img', false)).toThrow(/disk image \/nonexistent\/disk.img: no such file/);
    expect(() => DiskImage.open('/tmp', true)).toThrow(/not a regular file/);
  });

  it('sizes in whole sectors and reads past the end as zeros', () => {
    const img = DiskImage.open(tempImage(new Uint8Array(1000).fill(1)), true);
    expect(img.sectors).toBe(1);
    expect(img.inRange(0, 512)).toBe(true);
    expect(img.inRange(512, 512)).toBe(false);
    const buf = new Uint8Array(1024).fill(9);
    img.read(buf, 512);
    expect([buf[0], buf[487], buf[488], buf[1023]]).toEqual([1, 1, 0, 0]);
    expect(() => img.write(buf, 0)).toThrow(/read-only/);
    img.close();
  });

  it.skipIf(process.getuid?.() === 0)('a file without write permission opens only with ,ro', () => {
    const p = tempImage(new Uint8Array(512));
    chmodSync(p, 0o444);
    expect(() => DiskImage.open(p, false)).toThrow(/cannot open it for reading and writing \(add ,ro for read-only\)/);
    DiskImage.open(p, true).close();
  });
});
