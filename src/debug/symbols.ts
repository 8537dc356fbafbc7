// Symbols for the stepper and traces: an ELF32 symbol table (a vmlinux, a multiboot
// or plain ELF kernel) turned into "name+0xoff" lookups and name → address resolution.
// Pure parsing of the file; nothing here touches the machine.

export interface SymbolEntry { name: string; addr: number; size: number }

export class SymbolTable {
  /** Sorted by address; function and object symbols with a non-zero address. */
  private readonly sorted: SymbolEntry[];
  private readonly byName = new Map<string, number>();

  constructor(entries: SymbolEntry[]) {
    this.sorted = entries.filter((e) => e.addr !== 0 && e.name !== '').sort((a, b) => a.addr - b.addr || a.name.localeCompare(b.name));
    for (const e of this.sorted) if (!this.byName.has(e.name)) this.byName.set(e.name, e.addr);
  }

  get size(): number { return this.sorted.length; }

  /** The symbol at or below `addr` (within its size when it has one, else within 4 KiB). */
  lookup(addr: number): { name: string; offset: number } | null {
    const s = this.sorted;
    let lo = 0, hi = s.length - 1, best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid].addr <= addr) { best = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (best < 0) return null;
    const e = s[best];
    const off = addr - e.addr;
    if (e.size ? off >= e.size : off >= 0x1000) return null;
    return { name: e.name, offset: off };
  }

  /** "name" or "name+0x1c", or '' when unknown. */
  describe(addr: number): string {
    const l = this.lookup(addr >>> 0);
    if (!l) return '';
    return l.offset ? `${l.name}+0x${l.offset.toString(16)}` : l.name;
  }

  resolve(name: string): number | undefined { return this.byName.get(name); }
}

/** Section-boundary symbols the linker defines: they name no code or data. */
const LINKER_MARKERS = new Set(['_end', 'end', '_edata', 'edata', '_etext', 'etext', '__bss_start', '__bss_stop', '_text', '_stext', '_sdata']);

/** The symbols of an ELF32 little-endian file (.symtab, else .dynsym); an empty table when it has none. */
export function parseElfSymbols(img: Uint8Array): SymbolTable {
  const out: SymbolEntry[] = [];
  if (img.length < 52 || img[0] !== 0x7f || img[1] !== 0x45 || img[2] !== 0x4c || img[3] !== 0x46 || img[4] !== 1 || img[5] !== 1) return new SymbolTable(out);
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const shoff = dv.getUint32(32, true), shentsize = dv.getUint16(46, true), shnum = dv.getUint16(48, true);
  if (shoff === 0 || shentsize < 40 || shoff + shnum * shentsize > img.length) return new SymbolTable(out);
  const sh = (k: number) => {
    const o = shoff + k * shentsize;
    return { type: dv.getUint32(o + 4, true), offset: dv.getUint32(o + 16, true), size: dv.getUint32(o + 20, true), link: dv.getUint32(o + 24, true), entsize: dv.getUint32(o + 36, true) };
  };
  let symIdx = -1;
  for (let k = 0; k < shnum; k++) if (sh(k).type === 2) symIdx = k; // SHT_SYMTAB
  if (symIdx < 0) for (let k = 0; k < shnum; k++) if (sh(k).type === 11) symIdx = k; // SHT_DYNSYM
  if (symIdx < 0) return new SymbolTable(out);
  const st = sh(symIdx);
  if (st.link >= shnum) return new SymbolTable(out);
  const strs = sh(st.link);
  const ent = st.entsize || 16;
  if (st.offset + st.size > img.length || strs.offset + strs.size > img.length) return new SymbolTable(out);
  const dec = new TextDecoder('latin1');
  for (let o = st.offset; o + 16 <= st.offset + st.size; o += ent) {
    const nameOff = dv.getUint32(o, true), value = dv.getUint32(o + 4, true), size = dv.getUint32(o + 8, true);
    const info = img[o + 12], shndx = dv.getUint16(o + 14, true);
    const type = info & 0xf;
    if (shndx === 0 || (type !== 0 && type !== 1 && type !== 2)) continue; // undefined; not NOTYPE/OBJECT/FUNC
    if (nameOff >= strs.size) continue;
    let end = strs.offset + nameOff;
    while (end < strs.offset + strs.size && img[end] !== 0) end++;
    const name = dec.decode(img.subarray(strs.offset + nameOff, end));
    if (name.startsWith('$') || name.startsWith('.L') || LINKER_MARKERS.has(name)) continue;
    out.push({ name, addr: value, size });
  }
  return new SymbolTable(out);
}
