// Guest memory inside a WebAssembly.Memory (PhysMemory.inWasmMemory): the layout compiled
// WebAssembly will rely on (RAM at offset 0, the frame kinds after it, a scratch area), and
// the same behaviour as plain RAM for every access the CPU and devices make.
import { describe, expect, it } from 'vitest';
import { PAGE_MMIO, PAGE_RAM, PAGE_TRACKED, PhysMemory, SCRATCH_BYTES } from '../../src/mmu/physmem';
import { wasmApi } from '../../src/cpu/wasm-encode';

const MIB = 1 << 20;

/** A script of accesses (every size, page and RAM-end crossings, MMIO above RAM and overlaid, a tracked frame) and what it saw. */
function exercise(mem: PhysMemory): unknown[] {
  const log: unknown[] = [];
  mem.mmio = { mmioRead: (a, size) => { log.push(['r', a, size]); return 0x5a5a5a5a; }, mmioWrite: (a, size, v) => { log.push(['w', a, size, v]); } };
  mem.onTrackedWrite = (f, off, size) => log.push(['t', f, off, size]);
  mem.pageKind[3] = PAGE_TRACKED;
  mem.pageKind[5] = PAGE_MMIO;
  for (const [a, v] of [[0x10, 0x11223344], [0xffe, 0xa1b2c3d4], [0x3ffd, 0x01020304], [0x5000, 7], [mem.ramSize - 2, 0xdeadbeef], [mem.ramSize + 0x100, 1]] as const) {
    mem.write32(a, v);
    mem.write16(a + 1, v >>> 8);
    mem.write8(a + 3, v & 0xff);
    log.push([a, mem.read32(a), mem.read16(a + 1), mem.read8(a + 3)]);
  }
  mem.dmaWrite(0x2ffe, Uint8Array.of(1, 2, 3, 4, 5));
  log.push(Array.from(mem.dmaRead(0x2ffc, 8)), mem.mmioHits, mem.isRam(0x4000), mem.isRam(0x5000), mem.isRam(mem.ramSize));
  expect(() => mem.dmaRead(mem.ramSize - 2, 4)).toThrow(RangeError);
  return log;
}

describe.skipIf(wasmApi === null)('PhysMemory in a WebAssembly.Memory', () => {
  it('lays out RAM at 0, the frame kinds after it and a scratch area, in one fixed-size memory', () => {
    const mem = PhysMemory.inWasmMemory(4 * MIB)!;
    expect(mem).not.toBeNull();
    const a = mem.wasm!;
    const buf = a.memory.buffer;
    expect([mem.ram.buffer, mem.ram32.buffer, mem.frameKind.buffer]).toEqual([buf, buf, buf]);
    expect([mem.ram.length, mem.ram16.length, mem.ram32.length, mem.view.byteLength, mem.ramSize]).toEqual([4 * MIB, 2 * MIB, MIB, 4 * MIB, 4 * MIB]);
    expect(a.kindOffset).toBe(4 * MIB);
    expect(mem.frameKind.byteOffset).toBe(a.kindOffset);
    expect(mem.frameKind.length).toBe(1 << 20); // every frame of the 32-bit space
    expect(a.scratchOffset).toBe(a.kindOffset + MIB);
    expect(buf.byteLength).toBeGreaterThanOrEqual(a.scratchOffset + SCRATCH_BYTES);
    expect(buf.byteLength % 65536).toBe(0);
    // Frames past RAM are MMIO, RAM frames RAM; both seen by address in the linear memory.
    const bytes = new Uint8Array(buf);
    expect([bytes[a.kindOffset], bytes[a.kindOffset + 1023], bytes[a.kindOffset + 1024], bytes[a.kindOffset + 0xfffff]]).toEqual([PAGE_RAM, PAGE_RAM, PAGE_MMIO, PAGE_MMIO]);
    mem.write32(0x1234, 0xcafef00d);
    expect(new DataView(buf).getUint32(0x1234, true)).toBe(0xcafef00d);
    mem.pageKind[7] = PAGE_TRACKED;
    expect(bytes[a.kindOffset + 7]).toBe(PAGE_TRACKED);
  });

  it('behaves as plain RAM for every access, MMIO and tracked write', () => {
    expect(exercise(PhysMemory.inWasmMemory(MIB)!)).toEqual(exercise(new PhysMemory(MIB)));
  });

  it('a RAM size above 4 GiB with the kinds, or not a positive multiple of 4 KiB, gives null (plain memory then)', () => {
    expect(PhysMemory.inWasmMemory(4096 * MIB - 4096)).toBeNull(); // RAM + 1 MiB of kinds + scratch > 2^32
    for (const bad of [0, -4096, 4095, 1.5 * 4096, NaN]) expect(PhysMemory.inWasmMemory(bad), String(bad)).toBeNull();
    expect(new PhysMemory(MIB).wasm).toBeNull();
  });
});
