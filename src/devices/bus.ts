// The I/O bus: port I/O (64 KiB space) and MMIO ranges, both served by IoHandler.
//
// Splitting rule (documented because devices rely on it): an access of `size` bytes
// goes to a handler whole when it lies entirely inside one range, the range accepts
// that width, and it is naturally aligned (or the range allows unaligned access).
// Otherwise it is split into single-byte accesses, assembled little-endian, each
// routed on its own — so a word read straddling two devices reads a byte from
// each, and an unclaimed byte reads 0xff. Accesses wider than 4 bytes never reach
// the bus: PhysMemory splits them into 4-byte accesses first.

import type { AccessSize, MmioIo, PortIo } from '../cpu/interfaces';
import { type IoHandler, type IoRegionOptions, sizeMask } from './io-region';

export interface IoRegion {
  readonly name: string;
  readonly base: number;
  readonly length: number;
  readonly handler: IoHandler;
  readonly sizes: number;
  readonly unaligned: boolean;
}

export interface BusOptions {
  /** `--debug-ioport`: every port access is written to this sink as one line. */
  traceIo?: (line: string) => void;
  /** Same for MMIO accesses. */
  traceMmio?: (line: string) => void;
}

const PORT_SPACE = 0x10000;

function hex(v: number, digits: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(digits, '0');
}

export class IoBus implements PortIo, MmioIo {
  /** Port -> index into `portRegions` + 1 (0 = unclaimed). */
  private readonly portMap = new Uint16Array(PORT_SPACE);
  private portRegions: (IoRegion | null)[] = [];
  /** MMIO ranges sorted by base. */
  private mmioRegions: IoRegion[] = [];
  traceIo: ((line: string) => void) | undefined;
  traceMmio: ((line: string) => void) | undefined;

  constructor(opts: BusOptions = {}) {
    this.traceIo = opts.traceIo;
    this.traceMmio = opts.traceMmio;
  }

  // ---- registration -------------------------------------------------------

  private makeRegion(name: string, base: number, length: number, handler: IoHandler, opts: IoRegionOptions): IoRegion {
    if (!(length > 0)) throw new Error(`bus: ${name}: empty range`);
    return { name, base, length, handler, sizes: opts.sizes ?? 7, unaligned: opts.unaligned ?? false };
  }

  registerPorts(name: string, base: number, length: number, handler: IoHandler, opts: IoRegionOptions = {}): IoRegion {
    if (base < 0 || base + length > PORT_SPACE) throw new Error(`bus: ${name}: ports out of range`);
    for (let p = base; p < base + length; p++) {
      const idx = this.portMap[p]!;
      if (idx) {
        const other = this.portRegions[idx - 1]!;
        throw new Error(`bus: ${name} at ${hex(base, 4)}+${length} overlaps ${other.name} at port ${hex(p, 4)}`);
      }
    }
    const r = this.makeRegion(name, base, length, handler, opts);
    let slot = this.portRegions.indexOf(null);
    if (slot < 0) {
      slot = this.portRegions.length;
      this.portRegions.push(r);
    } else this.portRegions[slot] = r;
    if (slot + 1 > 0xffff) throw new Error('bus: too many port regions');
    this.portMap.fill(slot + 1, base, base + length);
    return r;
  }

  registerMmio(name: string, base: number, length: number, handler: IoHandler, opts: IoRegionOptions = {}): IoRegion {
    const end = base + length;
    for (const o of this.mmioRegions) {
      if (base < o.base + o.length && o.base < end) {
        throw new Error(`bus: ${name} at ${hex(base, 8)}+${hex(length, 1)} overlaps ${o.name} at ${hex(o.base, 8)}`);
      }
    }
    const r = this.makeRegion(name, base, length, handler, opts);
    this.mmioRegions = [...this.mmioRegions, r].sort((a, b) => a.base - b.base);
    return r;
  }

  unregister(region: IoRegion): void {
    const slot = this.portRegions.indexOf(region);
    if (slot >= 0) {
      this.portMap.fill(0, region.base, region.base + region.length);
      this.portRegions[slot] = null;
      return;
    }
    this.mmioRegions = this.mmioRegions.filter((r) => r !== region);
    this.lastMmio = null;
  }

  portRegion(port: number): IoRegion | null {
    const idx = this.portMap[port & 0xffff]!;
    return idx ? this.portRegions[idx - 1]! : null;
  }

  private lastMmio: IoRegion | null = null;

  mmioRegion(addr: number): IoRegion | null {
    const last = this.lastMmio;
    if (last && addr >= last.base && addr < last.base + last.length) return last;
    const rs = this.mmioRegions;
    let lo = 0;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = rs[mid]!;
      if (addr < r.base) hi = mid - 1;
      else if (addr >= r.base + r.length) lo = mid + 1;
      else {
        this.lastMmio = r;
        return r;
      }
    }
    return null;
  }

  regions(): { ports: IoRegion[]; mmio: IoRegion[] } {
    return { ports: this.portRegions.filter((r): r is IoRegion => r !== null), mmio: [...this.mmioRegions] };
  }

  // ---- access ---------------------------------------------------------------

  private whole(r: IoRegion | null, addr: number, size: AccessSize): r is IoRegion {
    return (
      r !== null &&
      addr + size <= r.base + r.length &&
      (r.sizes & size) !== 0 &&
      (r.unaligned || (addr & (size - 1)) === 0)
    );
  }

  private access(
    find: (a: number) => IoRegion | null,
    addr: number,
    size: AccessSize,
    op: 'read' | 'peek',
  ): number {
    const r = find(addr);
    if (this.whole(r, addr, size)) {
      if (op === 'read') return (r.handler.read(addr - r.base, size) & sizeMask(size)) >>> 0;
      return r.handler.peek ? (r.handler.peek(addr - r.base, size) & sizeMask(size)) >>> 0 : sizeMask(size);
    }
    if (size === 1) return 0xff; // unclaimed
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.access(find, addr + i, 1, op) << (8 * i);
    return v >>> 0;
  }

  private store(find: (a: number) => IoRegion | null, addr: number, size: AccessSize, value: number): void {
    const r = find(addr);
    if (this.whole(r, addr, size)) {
      r.handler.write(addr - r.base, size, (value & sizeMask(size)) >>> 0);
      return;
    }
    if (size === 1) return; // unclaimed: dropped
    for (let i = 0; i < size; i++) this.store(find, addr + i, 1, (value >>> (8 * i)) & 0xff);
  }

  private readonly findPort = (p: number): IoRegion | null => this.portRegion(p & 0xffff);
  private readonly findMmio = (a: number): IoRegion | null => this.mmioRegion(a);

  ioRead(port: number, size: AccessSize): number {
    const v = this.access(this.findPort, port & 0xffff, size, 'read');
    if (this.traceIo) this.traceIo(this.traceLine('ioport read ', hex(port, 4), size, v, this.portRegion(port)));
    return v;
  }

  ioWrite(port: number, size: AccessSize, value: number): void {
    if (this.traceIo) this.traceIo(this.traceLine('ioport write', hex(port, 4), size, value, this.portRegion(port)));
    this.store(this.findPort, port & 0xffff, size, value);
  }

  mmioRead(addr: number, size: AccessSize): number {
    const v = this.access(this.findMmio, addr, size, 'read');
    if (this.traceMmio) this.traceMmio(this.traceLine('mmio read ', hex(addr, 8), size, v, this.mmioRegion(addr)));
    return v;
  }

  mmioWrite(addr: number, size: AccessSize, value: number): void {
    if (this.traceMmio) this.traceMmio(this.traceLine('mmio write', hex(addr, 8), size, value, this.mmioRegion(addr)));
    this.store(this.findMmio, addr, size, value);
  }

  /** Side-effect-free port read for the debugger. */
  peekPort(port: number, size: AccessSize): number {
    return this.access(this.findPort, port & 0xffff, size, 'peek');
  }

  /** Side-effect-free MMIO read for the debugger (e.g. gdb memory reads). */
  peekMmio(addr: number, size: AccessSize): number {
    return this.access(this.findMmio, addr, size, 'peek');
  }

  private traceLine(what: string, where: string, size: AccessSize, v: number, r: IoRegion | null): string {
    return `${what} ${where} size ${size} ${what.includes('read') ? '->' : '<-'} ${hex(v & sizeMask(size), size * 2)} (${r?.name ?? 'unclaimed'})`;
  }
}
