// ELF32 executables for i386: PT_LOAD segments at their physical addresses.
import { LoaderError } from './errors';
import type { LoadTarget } from './image';

export function isElf(img: Uint8Array): boolean {
  return img.length >= 52 && img[0] === 0x7f && img[1] === 0x45 && img[2] === 0x4c && img[3] === 0x46;
}

/** Loads the PT_LOAD segments; returns the entry point and the highest address loaded. */
export function loadElf32(img: Uint8Array, mem: LoadTarget): { entry: number; end: number } {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  if (!isElf(img)) throw new LoaderError('not an ELF file');
  if (img[4] !== 1) throw new LoaderError('ELF file is 64-bit (ELFCLASS64); only 32-bit i386 kernels are supported so far');
  if (img[5] !== 1) throw new LoaderError('ELF file is big-endian');
  const machine = dv.getUint16(18, true);
  if (machine !== 3) throw new LoaderError(`ELF file is for machine ${machine}, not i386 (3)`);
  const entry = dv.getUint32(24, true);
  const phoff = dv.getUint32(28, true), phentsize = dv.getUint16(42, true), phnum = dv.getUint16(44, true);
  if (phnum === 0 || phoff + phnum * phentsize > img.length || phentsize < 32) throw new LoaderError('ELF program headers are missing or truncated');
  let end = 0, loaded = 0;
  for (let k = 0; k < phnum; k++) {
    const o = phoff + k * phentsize;
    if (dv.getUint32(o, true) !== 1) continue; // PT_LOAD
    const off = dv.getUint32(o + 4, true), paddr = dv.getUint32(o + 12, true);
    const filesz = dv.getUint32(o + 16, true), memsz = dv.getUint32(o + 20, true);
    if (off + filesz > img.length) throw new LoaderError(`ELF segment ${k} extends past the end of the file`);
    if (memsz < filesz) throw new LoaderError(`ELF segment ${k} has memsz < filesz`);
    if (paddr + memsz > mem.ramBytes) throw new LoaderError(`ELF segment ${k} at 0x${paddr.toString(16)} (+${memsz} bytes) is outside guest RAM; give more memory with -m`);
    mem.write(paddr, img.subarray(off, off + filesz));
    if (memsz > filesz) mem.fill(paddr + filesz, memsz - filesz, 0);
    end = Math.max(end, paddr + memsz);
    loaded++;
  }
  if (!loaded) throw new LoaderError('ELF file has no loadable segments');
  return { entry, end };
}
