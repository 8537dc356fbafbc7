import type { MmioIo } from '../cpu/interfaces';
import { wasmApi, type WasmMemory } from '../cpu/wasm-encode';
import { fastPathDefaults } from '../cpu/fastpaths';

/** Page kinds, one byte per 4 KiB physical frame below the end of RAM. */
export const PAGE_RAM = 0;
/** Frame is claimed by MMIO (overlaid on RAM, e.g. a VGA window). */
export const PAGE_MMIO = 1;
/**
 * Frame has reverse-map dependents (decoded code, or page-table entries behind cached
 * translations): writes go through `onTrackedWrite` first so exactly those are dropped.
 */
export const PAGE_TRACKED = 2;

/**
 * Guest memory inside one WebAssembly.Memory, laid out for code compiled to WebAssembly:
 * RAM at offset 0 (a guest physical address is its own linear-memory address), the frame
 * kinds (PhysMemory.frameKind) at `kindOffset`, and a scratch area of SCRATCH_BYTES at
 * `scratchOffset` where compiled code and the CPU exchange registers and exit state. The
 * memory's size is fixed (no grow: growing would detach every view over it).
 */
export interface WasmArena { memory: WasmMemory; kindOffset: number; scratchOffset: number; tlbOffset: number }
export const SCRATCH_BYTES = 0x20000;
/**
 * After the scratch area: ARENA_TLB_TABLES tables of 2^20 TLB entries (Int32, 4 MiB each)
 * for the CPU's software TLB (its address-space slots, then the identity table used with
 * paging off), so that compiled WebAssembly looks translations up where the TLB keeps them.
 */
export const ARENA_TLB_TABLES = 5;
const TLB_TABLE_BYTES = 4 << 20;
/** WebAssembly's 32-bit memories hold at most 65536 pages of 64 KiB. */
const WASM_MAX_PAGES = 65536;

const NO_MMIO: MmioIo = {
  mmioRead: (_a, size) => (size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff),
  mmioWrite: () => {},
};

/**
 * Guest physical memory: one ArrayBuffer of RAM starting at physical address 0,
 * and MMIO for everything else (above RAM, or frames explicitly overlaid).
 *
 * Every access is bounds-checked here; nothing a guest supplies can reach outside
 * `ram`. Writes to frames marked PAGE_TRACKED call `onTrackedWrite` before the write
 * lands, so the reverse map drops exactly what derives from those bytes (decoded code,
 * translations): self-modifying code and DMA over code or page tables behave as on
 * hardware.
 */
export class PhysMemory {
  readonly ram: Uint8Array;
  /** Aligned views of the same bytes (the CPU's aligned-access fast path; little-endian hosts). */
  readonly ram16: Uint16Array;
  readonly ram32: Int32Array;
  readonly view: DataView;
  readonly ramSize: number;
  /** One entry per frame of RAM: PAGE_RAM, or a mix of PAGE_MMIO / PAGE_TRACKED bits. */
  readonly pageKind: Uint8Array;
  /**
   * The same for every frame of the 32-bit physical space: pageKind is its first part
   * (one buffer), frames past RAM are PAGE_MMIO. Compiled code checks a frame with one
   * load and no bounds compare. PAGE_MMIO is fixed here, at construction (the TLB's
   * TLB_RAM bit relies on it); PAGE_TRACKED comes and goes with the rmap.
   */
  readonly frameKind: Uint8Array;
  mmio: MmioIo;
  /**
   * Counts MMIO accesses. A device access can raise an interrupt or stop the machine, so
   * the CPU's block executor compares this before and after each instruction and returns
   * to its instruction-boundary checks when it changed (as the one-instruction step does).
   */
  mmioHits = 0;
  /** Called before a write of `size` bytes at `off` in a PAGE_TRACKED frame lands. */
  onTrackedWrite: (frame: number, off: number, size: number) => void = () => {};
  /** Where RAM and the frame kinds sit in a WebAssembly.Memory (PhysMemory.inWasmMemory), or null. */
  readonly wasm: WasmArena | null = null;

  /**
   * RAM of `ramBytes` bytes (a multiple of 4 KiB), or the given buffer as RAM (KVM's
   * guest memory); `arena`: RAM and the frame kinds inside a WebAssembly.Memory (see
   * inWasmMemory, which builds it).
   */
  constructor(ramBytes: number | ArrayBuffer, mmio?: MmioIo, arena?: WasmArena & { ramSize: number }) {
    const buf = arena ? arena.memory.buffer : typeof ramBytes === 'number' ? new ArrayBuffer(ramBytes) : ramBytes;
    const size = arena ? arena.ramSize : buf.byteLength;
    if (size % 4096 !== 0) throw new Error(`RAM size ${size} is not a multiple of 4 KiB`);
    this.ram = new Uint8Array(buf, 0, size);
    this.ram16 = new Uint16Array(buf, 0, size / 2);
    this.ram32 = new Int32Array(buf, 0, size / 4);
    this.view = new DataView(buf, 0, size);
    this.ramSize = size;
    const frames = this.ramSize / 4096;
    this.frameKind = arena ? new Uint8Array(buf, arena.kindOffset, Math.max(1 << 20, frames)) : new Uint8Array(Math.max(1 << 20, frames));
    this.frameKind.fill(PAGE_MMIO, frames);
    this.pageKind = this.frameKind.subarray(0, frames);
    this.mmio = mmio ?? NO_MMIO;
    if (arena) this.wasm = { memory: arena.memory, kindOffset: arena.kindOffset, scratchOffset: arena.scratchOffset, tlbOffset: arena.tlbOffset };
  }

  /**
   * Guest memory of `ramBytes` inside a WebAssembly.Memory (WasmArena's layout), or null
   * where that cannot be had: no WebAssembly in this engine, more than a 32-bit memory
   * holds, or the host refusing the allocation. Everything else behaves as `new
   * PhysMemory(ramBytes, mmio)`.
   */
  static inWasmMemory(ramBytes: number, mmio?: MmioIo): PhysMemory | null {
    if (wasmApi === null || !Number.isInteger(ramBytes) || ramBytes <= 0 || ramBytes % 4096 !== 0) return null;
    const kindOffset = ramBytes, kindBytes = Math.max(1 << 20, ramBytes / 4096);
    const scratchOffset = kindOffset + Math.ceil(kindBytes / 4096) * 4096;
    const tlbOffset = scratchOffset + SCRATCH_BYTES;
    const pages = Math.ceil((tlbOffset + ARENA_TLB_TABLES * TLB_TABLE_BYTES) / 65536);
    if (pages > WASM_MAX_PAGES) return null;
    let memory: WasmMemory;
    try {
      memory = new wasmApi.Memory({ initial: pages, maximum: pages });
    } catch {
      return null; // RangeError: the host would not reserve it
    }
    return new PhysMemory(ramBytes, mmio, { memory, kindOffset, scratchOffset, tlbOffset, ramSize: ramBytes });
  }

  /**
   * Guest memory for a Cpu whose `wasm` option is `wasm`: inside a WebAssembly arena when
   * the WebAssembly tier is on (the option, else TS86_FASTPATHS) and the engine gives one,
   * else plain.
   */
  static forCpu(ramBytes: number, mmio: MmioIo | undefined, wasm: boolean | undefined): PhysMemory {
    return ((wasm ?? fastPathDefaults().wasm) ? PhysMemory.inWasmMemory(ramBytes, mmio) : null) ?? new PhysMemory(ramBytes, mmio);
  }

  /** TLB table `i` (0 <= i < ARENA_TLB_TABLES) inside the WebAssembly arena, or null without one. */
  arenaTlbTable(i: number): Int32Array | null {
    if (this.wasm === null || i < 0 || i >= ARENA_TLB_TABLES) return null;
    return new Int32Array(this.wasm.memory.buffer, this.wasm.tlbOffset + i * TLB_TABLE_BYTES, 1 << 20);
  }

  isRam(phys: number): boolean {
    return phys < this.ramSize && (this.pageKind[phys >>> 12] & PAGE_MMIO) === 0;
  }

  read8(p: number): number {
    if (p < this.ramSize && (this.pageKind[p >>> 12] & PAGE_MMIO) === 0) return this.ram[p];
    this.mmioHits++;
    return this.mmio.mmioRead(p, 1) & 0xff;
  }

  read16(p: number): number {
    if ((p & 0xfff) !== 0xfff && p + 1 < this.ramSize && (this.pageKind[p >>> 12] & PAGE_MMIO) === 0) return this.view.getUint16(p, true);
    if ((p & 0xfff) !== 0xfff && p >= this.ramSize) { this.mmioHits++; return this.mmio.mmioRead(p, 2) & 0xffff; }
    return this.read8(p) | (this.read8((p + 1) >>> 0) << 8);
  }

  read32(p: number): number {
    if ((p & 0xfff) <= 0xffc && p + 3 < this.ramSize && (this.pageKind[p >>> 12] & PAGE_MMIO) === 0) return this.view.getUint32(p, true);
    if ((p & 0xfff) <= 0xffc && p >= this.ramSize) { this.mmioHits++; return this.mmio.mmioRead(p, 4) >>> 0; }
    return (this.read16(p) | (this.read16((p + 2) >>> 0) << 16)) >>> 0;
  }

  write8(p: number, v: number): void {
    if (p < this.ramSize) {
      const k = this.pageKind[p >>> 12];
      if (k === PAGE_RAM) { this.ram[p] = v; return; }
      if ((k & PAGE_MMIO) === 0) { this.onTrackedWrite(p >>> 12, p & 0xfff, 1); this.ram[p] = v; return; }
    }
    this.mmioHits++;
    this.mmio.mmioWrite(p, 1, v & 0xff);
  }

  write16(p: number, v: number): void {
    if ((p & 0xfff) !== 0xfff && p + 1 < this.ramSize) {
      const k = this.pageKind[p >>> 12];
      if (k === PAGE_RAM) { this.view.setUint16(p, v, true); return; }
      if ((k & PAGE_MMIO) === 0) { this.onTrackedWrite(p >>> 12, p & 0xfff, 2); this.view.setUint16(p, v, true); return; }
    } else if ((p & 0xfff) !== 0xfff && p >= this.ramSize) {
      this.mmioHits++;
      this.mmio.mmioWrite(p, 2, v & 0xffff);
      return;
    }
    this.write8(p, v & 0xff);
    this.write8((p + 1) >>> 0, (v >>> 8) & 0xff);
  }

  write32(p: number, v: number): void {
    if ((p & 0xfff) <= 0xffc && p + 3 < this.ramSize) {
      const k = this.pageKind[p >>> 12];
      if (k === PAGE_RAM) { this.view.setUint32(p, v >>> 0, true); return; }
      if ((k & PAGE_MMIO) === 0) { this.onTrackedWrite(p >>> 12, p & 0xfff, 4); this.view.setUint32(p, v >>> 0, true); return; }
    } else if ((p & 0xfff) <= 0xffc && p >= this.ramSize) {
      this.mmioHits++;
      this.mmio.mmioWrite(p, 4, v >>> 0);
      return;
    }
    this.write16(p, v & 0xffff);
    this.write16((p + 2) >>> 0, (v >>> 16) & 0xffff);
  }

  /**
   * Checks a guest-supplied DMA range against RAM. Catches `addr + len` overflow.
   * Returns false for anything that is not wholly inside RAM.
   */
  rangeOk(addr: number, len: number): boolean {
    return Number.isInteger(addr) && Number.isInteger(len) && addr >= 0 && len >= 0 && addr <= this.ramSize && len <= this.ramSize - addr;
  }

  /** DMA write from a device: bounds-checked, invalidates decoded code it overwrites. */
  dmaWrite(addr: number, data: Uint8Array): void {
    if (!this.rangeOk(addr, data.length)) throw new RangeError(`DMA write of ${data.length} bytes at ${addr.toString(16)} is outside guest RAM`);
    for (let f = addr >>> 12; f <= (addr + data.length - 1) >>> 12 && data.length > 0; f++) {
      if (!(this.pageKind[f] & PAGE_TRACKED)) continue;
      const lo = Math.max(addr, f * 4096), hi = Math.min(addr + data.length, (f + 1) * 4096);
      this.onTrackedWrite(f, lo - f * 4096, hi - lo);
    }
    this.ram.set(data, addr);
  }

  /** DMA read for a device: bounds-checked; returns a copy. */
  dmaRead(addr: number, len: number): Uint8Array {
    if (!this.rangeOk(addr, len)) throw new RangeError(`DMA read of ${len} bytes at ${addr.toString(16)} is outside guest RAM`);
    return this.ram.slice(addr, addr + len);
  }
}
