// Picks the loader for a kernel image: Linux bzImage, multiboot, plain ELF32, or a flat binary.
import { basename } from 'node:path';
import { isBzImage, loadBzImage } from './bzimage';
import { isElf, loadElf32 } from './elf';
import { LoaderError } from './errors';
import type { LoadTarget, LoadedImage } from './image';
import { findMultibootHeader, loadMultiboot, type MultibootModule } from './multiboot';

export { LoaderError } from './errors';
export type { LoadTarget, LoadedImage } from './image';

export interface KernelSpec {
  image: Uint8Array;
  path: string;
  cmdline: string;
  /** The user's -p params alone (multiboot passes these, not the Linux defaults). */
  params: string;
  initrd: Uint8Array | null;
  /** Multiboot modules, when -i named several. */
  modules: MultibootModule[];
  /** Flat binaries: load address and entry mode. */
  flatAddr: number;
  flatBits: 16 | 32;
}

const QCOW = [0x51, 0x46, 0x49, 0xfb];

export function loadKernel(k: KernelSpec, mem: LoadTarget): LoadedImage {
  const img = k.image;
  if (img.length === 0) throw new LoaderError('the file is empty');
  if (QCOW.every((b, i) => img[i] === b)) throw new LoaderError('a qcow2 disk image, not a kernel (use -d for disks)');
  if (isBzImage(img)) return loadBzImage(img, mem, k.cmdline, k.initrd);
  if (findMultibootHeader(img) >= 0) {
    const mods = k.modules.length ? k.modules : k.initrd ? [{ name: 'initrd', args: '', data: k.initrd }] : [];
    return loadMultiboot(img, mem, basename(k.path), k.params, mods);
  }
  if (isElf(img)) {
    const { entry } = loadElf32(img, mem);
    return { kind: 'elf', describe: `ELF32 executable (entry 0x${entry.toString(16)})`, entry: { mode: 'pm32', eip: entry } };
  }
  // Anything else boots as a flat binary, which would happily "run" a text file or a
  // compressed archive given by mistake; refuse the two recognisable cases by name.
  const what = notAKernel(img);
  if (what) throw new LoaderError(`${what}, not a kernel (a bzImage, a multiboot or ELF32 kernel, or a flat binary)`);
  if (k.flatAddr + img.length > mem.ramBytes) throw new LoaderError(`flat binary at 0x${k.flatAddr.toString(16)} (+${img.length} bytes) does not fit in guest RAM`);
  mem.write(k.flatAddr, img);
  return {
    kind: 'flat',
    describe: `flat binary at 0x${k.flatAddr.toString(16)} (${k.flatBits}-bit)`,
    entry: k.flatBits === 16
      // A boot sector convention: CS=0 below 64 KiB (0:7C00), else the segment of the address.
      ? (k.flatAddr < 0x10000 ? { mode: 'real', eip: k.flatAddr, cs: 0 } : { mode: 'real', eip: k.flatAddr & 0xf, cs: k.flatAddr >>> 4 })
      : { mode: 'pm32', eip: k.flatAddr },
  };
}

/** Compressed-file magics (gzip, xz, zstd, bzip2) and text files: what a flat binary is not. */
function notAKernel(img: Uint8Array): string | null {
  const starts = (m: number[]): boolean => m.every((b, i) => img[i] === b);
  if (starts([0x1f, 0x8b])) return 'gzip-compressed (decompress it, or pass the bzImage)';
  if (starts([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz-compressed (decompress it, or pass the bzImage)';
  if (starts([0x28, 0xb5, 0x2f, 0xfd])) return 'zstd-compressed (decompress it, or pass the bzImage)';
  if (starts([0x42, 0x5a, 0x68])) return 'bzip2-compressed (decompress it, or pass the bzImage)';
  // Printable ASCII and whitespace throughout the first 512 bytes: x86 code never looks like that.
  const n = Math.min(img.length, 512);
  for (let i = 0; i < n; i++) {
    const b = img[i];
    if (!(b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b <= 0x7e))) return null;
  }
  return 'a text file';
}
