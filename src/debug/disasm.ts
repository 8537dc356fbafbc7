// The Intel-syntax disassembler. Bytes are decoded by the CPU's own decoder
// (src/cpu/decoder.ts, driven by the instruction table), fed from a byte array
// through a stand-in for the CPU's code fetch, so the listing can never disagree
// with what the interpreter executes about lengths, operands or prefixes. Text
// follows GNU objdump -M intel (binutils 2.40); see disasm-format.ts for spellings
// and test/debug/disasm.test.ts for the comparison against objdump.
import type { Cpu } from '../cpu/cpu';
import { decode } from '../cpu/decoder';
import { Insn } from '../cpu/insn';
import { formatInsn, isBad, joinText, hex } from './disasm-format';

export interface DisasmOptions {
  bits: 16 | 32;
  /** Address of bytes[0]. */
  org: number;
  /** Index in `bytes` where disassembly starts (default 0); its address is org + offset. */
  offset?: number;
  /** Index in `bytes` where disassembly stops (default bytes.length). */
  end?: number;
}

export interface DisasmLine {
  addr: number;
  bytes: Uint8Array;
  /** Mnemonic and operands, objdump-style ("xor    eax,eax"). */
  text: string;
}

/** Thrown by the byte source when an instruction runs past the end of the bytes. */
class Truncated {}
const TRUNCATED = new Truncated();
/** Thrown when the decoder raises a fault (only #GP for instructions longer than 15 bytes). */
class TooLong {}
const TOO_LONG = new TooLong();

/** The part of the CPU the decoder touches, served from a byte array. */
class ByteSource implements Pick<Cpu, 'code32' | 'fetchCode8' | 'raise'> {
  constructor(public code32: boolean, private readonly bytes: Uint8Array, private readonly end: number) {}
  fetchCode8(off: number): number {
    if (off >= this.end) throw TRUNCATED;
    return this.bytes[off];
  }
  raise(): never { throw TOO_LONG; }
}

const PREFIX_WORDS: Record<number, [string, string]> = {
  0x66: ['data32', 'data16'], 0x67: ['addr32', 'addr16'], 0xf0: ['lock', 'lock'], 0xf2: ['repnz', 'repnz'], 0xf3: ['repz', 'repz'],
  0x26: ['es', 'es'], 0x2e: ['cs', 'cs'], 0x36: ['ss', 'ss'], 0x3e: ['ds', 'ds'], 0x64: ['fs', 'fs'], 0x65: ['gs', 'gs'],
};

/**
 * Decodes the instruction at bytes[offset] with the CPU's decoder. Returns
 * 'truncated' when the bytes end inside the instruction and 'too-long' when it
 * exceeds the 15-byte limit (the decoder raises #GP).
 */
export function decodeAt(bytes: Uint8Array, offset: number, bits: 16 | 32, end = bytes.length): Insn | 'truncated' | 'too-long' {
  const insn = new Insn();
  try {
    decode(new ByteSource(bits === 32, bytes, end) as unknown as Cpu, insn, offset);
  } catch (e) {
    if (e === TRUNCATED) return 'truncated';
    if (e === TOO_LONG) return 'too-long';
    throw e;
  }
  return insn;
}

/** objdump gives up on prefixes after this many and prints them as a line of their own. */
const MAX_PREFIXES = 14;

/**
 * Decodes one instruction at bytes[offset] (address `addr`) and returns its length
 * and text. Never throws: bytes that do not form an instruction print as objdump
 * prints them ("(bad)", ".byte 0x..", or prefix words).
 */
export function disassembleOne(bytes: Uint8Array, offset: number, addr: number, bits: 16 | 32, end = bytes.length): { len: number; text: string } {
  const code32 = bits === 32;
  const insn = decodeAt(bytes, offset, bits, end);
  if (insn === 'too-long') {
    let n = 0;
    while (n < MAX_PREFIXES && PREFIX_WORDS[bytes[offset + n]]) n++;
    if (n === MAX_PREFIXES) return { len: n, text: Array.from(bytes.subarray(offset, offset + n), (b) => PREFIX_WORDS[b][code32 ? 1 : 0]).join(' ') };
    return { len: 1, text: '(bad)' };
  }
  if (insn === 'truncated') {
    // The bytes end inside the instruction: objdump shows a lone prefix as its name, anything else as data.
    const b = bytes[offset];
    const p = PREFIX_WORDS[b];
    return { len: 1, text: p ? p[code32 ? 1 : 0] : '.byte ' + hex(b) };
  }
  // objdump resynchronises right after the opcode of an invalid instruction, so
  // its (bad) covers only the prefixes and opcode bytes, not the ModRM and beyond.
  const len = isBad(insn.def, insn) ? insn.nprefix + (insn.op >= 0x100 ? 2 : 1) : insn.len;
  const raw = bytes.subarray(offset, offset + insn.len);
  // objdump treats FWAIT (9B) in front of an x87 instruction as a prefix: the pair
  // prints as one instruction, in the waiting spelling where there is one
  // (9B DF E0 = fstsw ax, 9B DA 01 = fiadd DWORD PTR [ecx]). Before anything else
  // FWAIT is an instruction of its own.
  if (insn.op === 0x9b && insn.nprefix === 0) {
    let k = offset + 1;
    while (k < end && bytes[k] === 0x9b) k++;
    const next = k < end ? decodeAt(bytes, k, bits, end) : 'truncated';
    if (typeof next !== 'string' && next.def?.fpu) {
      const f = formatInsn(next, { bytes: bytes.subarray(k, k + next.len), addr: addr + (k - offset), code32, wait: true });
      return { len: k - offset + next.len, text: joinText(f.mnem, f.ops) };
    }
  }
  const f = formatInsn(insn, { bytes: raw, addr, code32 });
  return { len, text: joinText(f.mnem, f.ops) };
}

/** Disassembles bytes[offset..end) as one stream of instructions. */
export function disassemble(bytes: Uint8Array, opts: DisasmOptions): DisasmLine[] {
  const out: DisasmLine[] = [];
  const end = Math.min(opts.end ?? bytes.length, bytes.length);
  let off = opts.offset ?? 0;
  while (off < end) {
    const addr = (opts.org + off) >>> 0;
    const { len, text } = disassembleOne(bytes, off, addr, opts.bits, end);
    out.push({ addr, bytes: bytes.slice(off, off + len), text });
    off += len;
  }
  return out;
}

/**
 * Width of the address column as objdump chooses it: the section's end address
 * printed as 8 hex digits, leading zeros dropped in groups of four while at least
 * one remains (so 4 columns below 0x1000, 8 from there on).
 */
export function addressWidth(endAddr: number): number {
  const digits = (endAddr >>> 0).toString(16).padStart(8, '0');
  let skip = 0;
  while (digits[skip] === '0') skip++;
  if (skip === 8) skip = 7;
  if (skip !== 0) skip = (skip - 1) & ~3;
  return 8 - skip;
}

/** objdump prints at most this many instruction bytes per line for i386 and continues on the next. */
const BYTES_PER_LINE = 7;

/**
 * objdump-style listing lines:
 *   "    7c00:\t31 c0                \txor    eax,eax"
 * Long instructions continue on following lines with the remaining bytes.
 */
export function formatListing(lines: DisasmLine[], opts: { endAddr?: number } = {}): string[] {
  if (lines.length === 0) return [];
  const last = lines[lines.length - 1];
  const width = addressWidth(opts.endAddr ?? last.addr + last.bytes.length);
  const addrCol = (a: number): string => (a >>> 0).toString(16).padStart(width, ' ') + ':\t';
  const hexBytes = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0') + ' ').join('');
  const out: string[] = [];
  for (const l of lines) {
    const first = l.bytes.subarray(0, BYTES_PER_LINE);
    out.push(addrCol(l.addr) + hexBytes(first).padEnd(BYTES_PER_LINE * 3) + '\t' + l.text);
    for (let k = BYTES_PER_LINE; k < l.bytes.length; k += BYTES_PER_LINE) {
      out.push(addrCol(l.addr + k) + hexBytes(l.bytes.subarray(k, k + BYTES_PER_LINE)));
    }
  }
  return out;
}
