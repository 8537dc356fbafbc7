// Random valid instruction streams from the instruction table (src/cpu/table.ts), and
// random register and memory state. Everything is drawn from a seeded PRNG, so a
// (seed, stream) pair reproduces a stream exactly.
// cpu.ts first: table.ts -> ops -> cpu.ts -> decoder.ts reads TABLE at load time, so the
// table must not be the first of the cycle to load.
import '../../cpu/cpu';
import { TABLE, type OpDef } from '../../cpu/table';
import { decodeAt } from '../../debug/disasm';
import type { Insn } from '../../cpu/insn';
import { exclusionReason, type LockstepMode } from './exclusions';

/** mulberry32: small, fast, good enough for test-case generation. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  below(n: number): number { return this.u32() % n; }
  chance(p: number): boolean { return this.u32() < p * 4294967296; }
  fill(buf: Uint8Array): void {
    const n = buf.length & ~3;
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      buf[i] = v; buf[i + 1] = v >>> 8; buf[i + 2] = v >>> 16; buf[i + 3] = v >>> 24;
    }
    for (let i = n; i < buf.length; i++) buf[i] = this.u32();
  }
}

/** Derives a stream's seed from the run seed and the stream number. */
export function streamSeed(seed: number, stream: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  return (h ^ (h >>> 13)) >>> 0;
}

const STRING_OPS = new Set([0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf]);
const SEG_PREFIX = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];

export function isString(d: OpDef): boolean { return d.code < 0x100 && STRING_OPS.has(d.code); }

/** The table entries a mode may generate. */
export function allowedDefs(mode: LockstepMode): OpDef[] {
  return TABLE.filter((d) => exclusionReason(d, mode) === null);
}

function hasMemDest(d: OpDef): boolean { return d.args.length > 0 && /^[EM]/.test(d.args[0]!); }

/**
 * Encodes one instance of `d`: random prefixes (operand/address size, segment
 * override, REP for string instructions, now and then a LOCK), the opcode, a random
 * ModRM/SIB/displacement and immediates. The decoder measures the length, and the
 * result must decode back to `d` (else null).
 */
export function encode(d: OpDef, rng: Rng, bits: 16 | 32, scratch: Uint8Array): Uint8Array | null {
  let n = 0;
  if (rng.chance(0.15)) scratch[n++] = 0x66;
  if (rng.chance(0.12)) scratch[n++] = 0x67;
  if (rng.chance(0.12)) scratch[n++] = SEG_PREFIX[rng.below(6)]!;
  if (isString(d) && rng.chance(0.5)) scratch[n++] = rng.chance(0.5) ? 0xf3 : 0xf2;
  // LOCK: valid only on lockable instructions with a memory destination; elsewhere (rarely) to check #UD.
  if ((d.lockable && rng.chance(0.2)) || rng.chance(0.01)) scratch[n++] = 0xf0;
  if (d.code >= 0x100) scratch[n++] = 0x0f;
  scratch[n++] = d.code & 0xff;
  const start = n;
  for (let i = n; i < n + 12; i++) scratch[i] = rng.u32();
  if (d.grp !== undefined || d.modrm || d.args.some((a) => /^[EGMSR]/.test(a))) {
    let modrm = scratch[start]!;
    if (d.grp !== undefined) modrm = (modrm & 0xc7) | (d.grp << 3);
    if (d.memOnly && (modrm & 0xc0) === 0xc0) modrm &= 0x3f;
    // Register forms half of the time: they reach more opcode semantics per fault.
    if (!d.memOnly && hasMemDest(d) === false && rng.chance(0.3)) modrm |= 0xc0;
    if (!d.memOnly && rng.chance(0.4)) modrm |= 0xc0;
    scratch[start] = modrm;
  }
  const insn = decodeAt(scratch, 0, bits, n + 12);
  if (typeof insn === 'string' || insn.def !== d) return null;
  return scratch.slice(0, insn.len);
}

/** Decodes the instruction at `off` of `bytes` (null if it is not a table instruction). */
export function decodeHere(bytes: Uint8Array, off: number, bits: 16 | 32): Insn | null {
  try {
    const i = decodeAt(bytes, off, bits);
    return typeof i === 'string' || !i.def ? null : i;
  } catch {
    return null;
  }
}

/**
 * Fills `code` (the code window) with back-to-back random allowed instructions up to
 * `end`, then NOPs. Returns the instruction start offsets (streams start at one).
 */
export function fillCode(code: Uint8Array, end: number, defs: OpDef[], rng: Rng, bits: 16 | 32): number[] {
  const starts: number[] = [];
  const scratch = new Uint8Array(32);
  let at = 0;
  while (at < end - 16) {
    const d = defs[rng.below(defs.length)]!;
    const b = encode(d, rng, bits, scratch);
    if (!b) continue;
    starts.push(at);
    code.set(b, at);
    at += b.length;
  }
  code.fill(0x90, at);
  return starts;
}

/** A random 32-bit register value, biased towards small values (addresses inside the windows), 0 and edges. */
export function randomReg(rng: Rng): number {
  const k = rng.below(16);
  if (k < 7) return rng.below(0x10000);
  if (k === 7) return 0;
  if (k === 8) return 0xffffffff;
  if (k === 9) return rng.below(64);
  if (k === 10) return (0x80000000 | rng.below(4)) >>> 0;
  return rng.u32();
}
