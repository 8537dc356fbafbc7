import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadKernel, LoaderError, type KernelSpec, type LoadTarget } from '../../src/loader/index';
import { MB_BOOT_MAGIC } from '../../src/loader/multiboot';
import { CMDLINE_ADDR, ZERO_PAGE } from '../../src/loader/bzimage';

function target(mib = 64): LoadTarget & { ram: Uint8Array; dv: DataView } {
  const ram = new Uint8Array(mib << 20);
  return {
    ram, dv: new DataView(ram.buffer), ramBytes: ram.length,
    write: (a, d) => { if (a + d.length > ram.length) throw new Error('outside RAM'); ram.set(d, a); },
    fill: (a, n, v) => ram.fill(v, a, a + n),
  };
}
function spec(image: Uint8Array, over: Partial<KernelSpec> = {}): KernelSpec {
  return { image, path: '/k/test.elf', cmdline: 'console=ttyS0', params: '', initrd: null, modules: [], flatAddr: 0x100000, flatBits: 32, ...over };
}
const cstr = (ram: Uint8Array, a: number): string => { let s = ''; while (ram[a]) s += String.fromCharCode(ram[a++]); return s; };

/** A multiboot image using the a.out kludge: header at 0x40, loaded at 0x200000, bss to 0x203000. */
function aoutKernel(): Uint8Array {
  const img = new Uint8Array(0x1000);
  const dv = new DataView(img.buffer);
  const flags = 0x00010003;
  dv.setUint32(0x40, 0x1badb002, true); dv.setUint32(0x44, flags, true); dv.setUint32(0x48, (-(0x1badb002 + flags)) >>> 0, true);
  dv.setUint32(0x4c, 0x200040, true); // header_addr
  dv.setUint32(0x50, 0x200000, true); // load_addr
  dv.setUint32(0x54, 0x201000, true); // load_end_addr
  dv.setUint32(0x58, 0x203000, true); // bss_end_addr
  dv.setUint32(0x5c, 0x200100, true); // entry
  img[0x100] = 0xf4;
  return img;
}

describe('multiboot loader', () => {
  it('loads an a.out-kludge kernel at load_addr, zeroes its bss, and enters with the boot magic', () => {
    const t = target();
    t.ram.fill(0xaa, 0x201000, 0x203000);
    const img = loadKernel(spec(aoutKernel()), t);
    expect(img.kind).toBe('multiboot');
    expect(img.entry).toMatchObject({ mode: 'pm32', eip: 0x200100, regs: { eax: MB_BOOT_MAGIC } });
    expect(t.ram[0x200100]).toBe(0xf4);
    expect(t.ram.subarray(0x201000, 0x203000).every((b) => b === 0)).toBe(true);
  });

  it('passes the command line with the kernel file name first, the memory map and modules as QEMU does', () => {
    const t = target();
    const mods = [{ name: 'mod1.bin', args: 'a=1', data: Uint8Array.of(1, 2, 3) }, { name: 'mod2.bin', args: '', data: new Uint8Array(5000) }];
    const img = loadKernel(spec(aoutKernel(), { params: 'foo bar', modules: mods }), t);
    const info = img.entry.regs!.ebx!;
    const flags = t.dv.getUint32(info, true);
    expect(flags & 0x4d).toBe(0x4d); // mem, cmdline, mods, mmap
    expect(cstr(t.ram, t.dv.getUint32(info + 16, true))).toBe('test.elf foo bar');
    expect(t.dv.getUint32(info + 20, true)).toBe(2);
    const m0 = t.dv.getUint32(info + 24, true);
    const start0 = t.dv.getUint32(m0, true), end0 = t.dv.getUint32(m0 + 4, true);
    expect(start0 % 4096).toBe(0); // page-aligned (header flag 0)
    expect(start0).toBeGreaterThanOrEqual(0x203000); // above the kernel and its bss
    expect([...t.ram.subarray(start0, end0)]).toEqual([1, 2, 3]);
    expect(cstr(t.ram, t.dv.getUint32(m0 + 8, true))).toBe('mod1.bin a=1');
    const start1 = t.dv.getUint32(m0 + 16, true);
    expect(start1 % 4096).toBe(0);
    expect(t.dv.getUint32(m0 + 20, true) - start1).toBe(5000);
    // Memory map: first entry is low RAM, type 1.
    const mmapLen = t.dv.getUint32(info + 44, true), mmap = t.dv.getUint32(info + 48, true);
    expect(mmapLen % 24).toBe(0);
    expect(t.dv.getUint32(mmap, true)).toBe(20);
    expect(t.dv.getUint32(mmap + 20, true)).toBe(1);
  });

  it('finds the header only in the first 8 KiB, 4-byte aligned, with a valid checksum', () => {
    const img = aoutKernel();
    img[0x48] ^= 1; // break the checksum: no multiboot header, not ELF: a flat binary
    expect(loadKernel(spec(img), target()).kind).toBe('flat');
  });

  it('refuses text files and compressed files instead of running them as flat binaries', () => {
    const text = new TextEncoder().encode('root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n');
    expect(() => loadKernel(spec(text), target())).toThrow(/a text file, not a kernel/);
    expect(() => loadKernel(spec(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0)), target())).toThrow(/gzip-compressed/);
    expect(() => loadKernel(spec(Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 0)), target())).toThrow(/xz-compressed/);
    expect(() => loadKernel(spec(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0)), target())).toThrow(/zstd-compressed/);
    // One non-text byte (here a HLT) makes it a flat binary again.
    expect(loadKernel(spec(Uint8Array.of(...text.slice(0, 20), 0xf4)), target()).kind).toBe('flat');
  });

  it('rejects an a.out kludge whose load_end_addr is past the end of the file', () => {
    const img = aoutKernel();
    new DataView(img.buffer).setUint32(0x54, 0x280000, true);
    expect(() => loadKernel(spec(img), target())).toThrow(/load_end_addr is past the end of the file/);
  });
});

describe('Linux boot protocol loader', () => {
  const bz = new Uint8Array(readFileSync(new URL('../../fixtures/linux/bzImage', import.meta.url)));
  it('fills the zero page: setup header, loader type, command line, e820, initrd below initrd_addr_max', () => {
    const t = target(128);
    const initrd = new Uint8Array(100_000).fill(7);
    const img = loadKernel(spec(bz, { cmdline: 'console=ttyS0 quiet', initrd }), t);
    expect(img.kind).toBe('bzimage');
    expect(img.entry).toMatchObject({ mode: 'pm32', cs: 0x10, regs: { esi: ZERO_PAGE } });
    const zp = (o: number) => t.dv.getUint32(ZERO_PAGE + o, true);
    expect(String.fromCharCode(...t.ram.subarray(ZERO_PAGE + 0x202, ZERO_PAGE + 0x206))).toBe('HdrS');
    expect(t.ram[ZERO_PAGE + 0x210]).toBe(0xff);
    expect(zp(0x228)).toBe(CMDLINE_ADDR);
    expect(cstr(t.ram, CMDLINE_ADDR)).toBe('console=ttyS0 quiet');
    const at = zp(0x218);
    expect(zp(0x21c)).toBe(100_000);
    expect(at % 4096).toBe(0);
    expect(at + 100_000).toBeLessThanOrEqual(Math.min(zp(0x22c) + 1, 128 << 20));
    expect(t.ram[at]).toBe(7);
    expect(t.ram[ZERO_PAGE + 0x1e8]).toBeGreaterThanOrEqual(3); // e820 entries
    expect(t.dv.getUint32(ZERO_PAGE + 0x2d0 + 16, true)).toBe(1); // first entry: RAM
  });
  it('refuses an old boot protocol, a zImage and a command line longer than the kernel accepts', () => {
    const old = bz.slice(); old[0x206] = 0x01; old[0x207] = 0x02;
    expect(() => loadKernel(spec(old), target())).toThrow(/boot protocol 2\.1 is too old/);
    const zimg = bz.slice(); zimg[0x211] &= ~1;
    expect(() => loadKernel(spec(zimg), target())).toThrow(/zImage/);
    expect(() => loadKernel(spec(bz, { cmdline: 'x'.repeat(5000) }), target(128))).toThrow(LoaderError);
  });
});
