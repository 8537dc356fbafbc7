// Multiboot v1 (Multiboot Specification 0.6.96): ELF32 kernels and the a.out kludge,
// a boot information structure with the memory map, the command line (whose first
// word is the kernel's file name, as QEMU passes it) and modules from -i/--initrd
// ("file args" entries separated by commas, as QEMU's -initrd takes them).
import { LoaderError } from './errors';
import { pcMemoryMap } from './e820';
import { isElf, loadElf32 } from './elf';
import type { LoadTarget, LoadedImage } from './image';

export const MB_MAGIC = 0x1badb002;
export const MB_BOOT_MAGIC = 0x2badb002;
const INFO = 0x9000, STRINGS = 0x9400, MMAP = 0x9800, MODS = 0x9a00;

export function findMultibootHeader(img: Uint8Array): number {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  for (let o = 0; o + 12 <= Math.min(img.length, 8192); o += 4) {
    if (dv.getUint32(o, true) !== MB_MAGIC) continue;
    const flags = dv.getUint32(o + 4, true), sum = dv.getUint32(o + 8, true);
    if (((MB_MAGIC + flags + sum) >>> 0) === 0) return o;
  }
  return -1;
}

export interface MultibootModule { name: string; args: string; data: Uint8Array }

export function loadMultiboot(img: Uint8Array, mem: LoadTarget, kernelName: string, params: string, modules: MultibootModule[]): LoadedImage {
  const hdr = findMultibootHeader(img);
  if (hdr < 0) throw new LoaderError('no multiboot header in the first 8 KiB');
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const flags = dv.getUint32(hdr + 4, true);
  let entry: number, end: number;
  if (flags & (1 << 16)) {
    // The a.out kludge: addresses from the header.
    if (hdr + 32 > img.length) throw new LoaderError('multiboot header truncated (a.out kludge fields missing)');
    const headerAddr = dv.getUint32(hdr + 12, true), loadAddr = dv.getUint32(hdr + 16, true);
    const loadEnd = dv.getUint32(hdr + 20, true), bssEnd = dv.getUint32(hdr + 24, true);
    entry = dv.getUint32(hdr + 28, true);
    if (headerAddr < loadAddr) throw new LoaderError('multiboot header_addr is below load_addr');
    const fileOff = hdr - (headerAddr - loadAddr);
    if (fileOff < 0) throw new LoaderError('multiboot load_addr lies before the start of the file');
    const len = loadEnd ? loadEnd - loadAddr : img.length - fileOff;
    if (len < 0 || fileOff + len > img.length) throw new LoaderError('multiboot load_end_addr is past the end of the file');
    if (loadAddr + Math.max(len, bssEnd ? bssEnd - loadAddr : 0) > mem.ramBytes) throw new LoaderError('the multiboot kernel does not fit in guest RAM; give more memory with -m');
    mem.write(loadAddr, img.subarray(fileOff, fileOff + len));
    end = loadAddr + len;
    if (bssEnd > end) { mem.fill(end, bssEnd - end, 0); end = bssEnd; }
  } else {
    if (!isElf(img)) throw new LoaderError('multiboot kernel is not ELF and does not use the a.out kludge (flag 16)');
    ({ entry, end } = loadElf32(img, mem));
  }

  // Boot information.
  const info = new DataView(new ArrayBuffer(88));
  let iflags = 1 | (1 << 2) | (1 << 6) | (1 << 9); // mem, cmdline, mmap, boot loader name
  info.setUint32(4, 640, true); // mem_lower KiB
  info.setUint32(8, Math.max(0, (mem.ramBytes - 0x100000) >> 10), true); // mem_upper KiB
  let strAt = STRINGS;
  const putString = (s: string): number => {
    const b = new TextEncoder().encode(s + '\0');
    if (strAt + b.length > MMAP) throw new LoaderError('multiboot command line and module strings are too long (1 KiB max)');
    mem.write(strAt, b);
    const at = strAt;
    strAt += b.length;
    return at;
  };
  info.setUint32(16, putString(params ? `${kernelName} ${params}` : kernelName), true);
  info.setUint32(64, putString('ts86'), true);
  const map = pcMemoryMap(mem.ramBytes);
  const mm = new DataView(new ArrayBuffer(map.length * 24));
  map.forEach((r, k) => {
    mm.setUint32(k * 24, 20, true);
    mm.setUint32(k * 24 + 4, r.addr, true);
    mm.setUint32(k * 24 + 12, r.size, true);
    mm.setUint32(k * 24 + 20, r.type, true);
  });
  mem.write(MMAP, new Uint8Array(mm.buffer));
  info.setUint32(44, mm.byteLength, true);
  info.setUint32(48, MMAP, true);
  if (modules.length) {
    iflags |= 1 << 3;
    let at = Math.ceil(end / 4096) * 4096;
    const mods = new DataView(new ArrayBuffer(modules.length * 16));
    modules.forEach((m, k) => {
      if (at + m.data.length > mem.ramBytes) throw new LoaderError(`module ${m.name} does not fit in guest RAM; give more memory with -m`);
      mem.write(at, m.data);
      mods.setUint32(k * 16, at, true);
      mods.setUint32(k * 16 + 4, at + m.data.length, true);
      mods.setUint32(k * 16 + 8, putString(m.args ? `${m.name} ${m.args}` : m.name), true);
      at = Math.ceil((at + m.data.length) / 4096) * 4096;
    });
    mem.write(MODS, new Uint8Array(mods.buffer));
    info.setUint32(20, modules.length, true);
    info.setUint32(24, MODS, true);
  }
  info.setUint32(0, iflags, true);
  mem.write(INFO, new Uint8Array(info.buffer));
  return {
    kind: 'multiboot',
    describe: `multiboot kernel (${flags & (1 << 16) ? 'a.out kludge' : 'ELF'}, entry 0x${entry.toString(16)})`,
    entry: { mode: 'pm32', eip: entry, regs: { eax: MB_BOOT_MAGIC, ebx: INFO } },
  };
}
