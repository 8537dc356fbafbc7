// The Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 32-bit entry:
// the protected-mode kernel at 1 MiB, a zero page (struct boot_params) with the
// setup header, the e820 map, the command line and the initrd, and CS=0x10/DS=0x18
// flat segments from a GDT we provide, ESI = the zero page, interrupts off.
import { LoaderError } from './errors';
import { pcMemoryMap } from './e820';
import type { LoadTarget, LoadedImage } from './image';

export const ZERO_PAGE = 0x10000;
export const CMDLINE_ADDR = 0x20000;
export const BOOT_GDT = 0x1000;
const KERNEL_ADDR = 0x100000;

export function isBzImage(img: Uint8Array): boolean {
  return img.length > 0x264 && img[0x1fe] === 0x55 && img[0x1ff] === 0xaa &&
    img[0x202] === 0x48 && img[0x203] === 0x64 && img[0x204] === 0x72 && img[0x205] === 0x53; // "HdrS"
}

export function loadBzImage(img: Uint8Array, mem: LoadTarget, cmdline: string, initrd: Uint8Array | null): LoadedImage {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  if (!isBzImage(img)) throw new LoaderError('not a Linux bzImage (no boot sector signature or "HdrS" setup header)');
  const version = dv.getUint16(0x206, true);
  if (version < 0x0206) throw new LoaderError(`Linux boot protocol ${version >> 8}.${version & 0xff} is too old (2.06 or later needed)`);
  const loadflags = img[0x211];
  if (!(loadflags & 1)) throw new LoaderError('zImage kernels (loaded low) are not supported; use a bzImage');
  let setupSects = img[0x1f1];
  if (setupSects === 0) setupSects = 4;
  const setupBytes = (setupSects + 1) * 512;
  if (setupBytes >= img.length) throw new LoaderError(`bzImage truncated: setup is ${setupBytes} bytes but the file has ${img.length}`);
  const kernel = img.subarray(setupBytes);
  const initSize = dv.getUint32(0x260, true);
  const need = KERNEL_ADDR + Math.max(kernel.length, initSize);
  if (need > mem.ramBytes) throw new LoaderError(`the kernel needs ${(need / 1048576).toFixed(1)} MiB of RAM to decompress; give more with -m`);
  mem.write(KERNEL_ADDR, kernel);

  // The zero page: cleared, then the setup header copied verbatim (0x1f1 .. end of header).
  mem.fill(ZERO_PAGE, 4096, 0);
  const hdrEnd = 0x202 + img[0x201];
  const zp = new Uint8Array(4096);
  zp.set(img.subarray(0x1f1, Math.min(hdrEnd, img.length)), 0x1f1);
  const z = new DataView(zp.buffer);
  z.setUint8(0x210, 0xff); // type_of_loader: undefined boot loader
  z.setUint8(0x211, loadflags | 0x80); // CAN_USE_HEAP
  z.setUint16(0x224, 0xfe00, true); // heap_end_ptr
  const cmdMax = Math.min(dv.getUint32(0x238, true) || 255, 4095);
  const cmd = new TextEncoder().encode(cmdline);
  if (cmd.length > cmdMax) throw new LoaderError(`kernel command line is ${cmd.length} bytes; this kernel accepts at most ${cmdMax}`);
  const cmdBuf = new Uint8Array(cmd.length + 1);
  cmdBuf.set(cmd);
  mem.write(CMDLINE_ADDR, cmdBuf);
  z.setUint32(0x228, CMDLINE_ADDR, true);
  // Memory sizes: ext_mem_k (legacy) and alt_mem_k.
  const extK = Math.max(0, (mem.ramBytes - 0x100000) >> 10);
  z.setUint16(0x002, Math.min(extK, 0xffff), true);
  z.setUint32(0x1e0, extK, true);
  // e820 map at 0x2d0, count at 0x1e8.
  const map = pcMemoryMap(mem.ramBytes);
  map.forEach((r, k) => {
    const o = 0x2d0 + k * 20;
    z.setUint32(o, r.addr, true); z.setUint32(o + 4, 0, true);
    z.setUint32(o + 8, r.size, true); z.setUint32(o + 12, 0, true);
    z.setUint32(o + 16, r.type, true);
  });
  z.setUint8(0x1e8, map.length);
  // The initrd: as high as allowed, below initrd_addr_max and the end of RAM, page aligned.
  if (initrd) {
    const addrMax = dv.getUint32(0x22c, true) || 0x37ffffff;
    const top = Math.min(addrMax + 1, mem.ramBytes);
    const at = Math.floor((top - initrd.length) / 4096) * 4096;
    if (at < need + 4096) throw new LoaderError(`the initrd (${(initrd.length / 1048576).toFixed(1)} MiB) does not fit below the kernel's initrd limit; give more memory with -m`);
    mem.write(at, initrd);
    z.setUint32(0x218, at, true);
    z.setUint32(0x21c, initrd.length, true);
  }
  mem.write(ZERO_PAGE, zp);

  // GDT with __BOOT_CS (0x10) and __BOOT_DS (0x18), flat 4 GiB.
  const gdt = new Uint8Array(32);
  const g = new DataView(gdt.buffer);
  g.setUint32(0x10, 0x0000ffff, true); g.setUint32(0x14, 0x00cf9a00, true);
  g.setUint32(0x18, 0x0000ffff, true); g.setUint32(0x1c, 0x00cf9200, true);
  mem.write(BOOT_GDT, gdt);
  const ver = `${version >> 8}.${(version & 0xff).toString().padStart(2, '0')}`;
  return {
    kind: 'bzimage',
    describe: `Linux bzImage (boot protocol ${ver}, ${(kernel.length / 1024).toFixed(0)} KiB)`,
    entry: { mode: 'pm32', eip: dv.getUint32(0x214, true) || KERNEL_ADDR, cs: 0x10, regs: { esi: ZERO_PAGE, ebx: 0, ebp: 0, edi: 0, esp: 0x9f000 } },
    gdt: { base: BOOT_GDT, limit: 0x1f },
  };
}
