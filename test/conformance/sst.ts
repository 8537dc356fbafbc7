// Runner for the SingleStepTests 80286 real-mode vectors (../shared/testdata/sst-80286).
// Shared by the vitest conformance test and `npm run conformance`-style scripts.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cpu } from '../../src/cpu/cpu';
import { PhysMemory } from '../../src/mmu/physmem';
import { lookup } from '../../src/cpu/decoder';
import { flagMask } from '../../src/cpu/table';
import { Exit } from '../../src/cpu/interfaces';
import { CS, DS, ES, SS } from '../../src/cpu/consts';

export const SST_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../shared/testdata/sst-80286');
export const sstAvailable = (): boolean => existsSync(join(SST_DIR, 'v1_real_mode'));

interface Regs { ax: number; bx: number; cx: number; dx: number; cs: number; ss: number; ds: number; es: number; sp: number; bp: number; si: number; di: number; ip: number; flags: number }
interface SstTest {
  idx: number;
  name: string;
  bytes: number[];
  initial: { regs: Regs; ram: [number, number][] };
  final: { regs: Partial<Regs>; ram: [number, number][] };
  exception?: { number: number; flag_address: number };
  hash: string;
}

export interface FileResult { file: string; passed: number; failed: number; known: number; failures: string[] }

/** Flags bits 12-15 (IOPL, NT, bit 15) cannot be set in real mode on a 286 (upstream README). */
const REAL_MODE_FLAGS = 0x0fff;

/**
 * Differences between the 286 the vectors were captured on and the 386+ ts86 models.
 * Each returns a reason when a failing test is explained by it.
 */
function knownDifference(op: string, t: SstTest, got: Regs, lockInvalid: boolean, raised: number): string | null {
  const exp = { ...t.initial.regs, ...t.final.regs };
  // LOCK on an instruction that cannot be locked: #UD on the 386 and later (SDM Vol.2A LOCK); the 286 ignores it.
  if (lockInvalid && raised === 6) return 'LOCK on a non-lockable instruction: #UD on 386+, ignored by the 286';
  // POPF and IRET: a 386 in real mode loads IOPL and NT from the popped image; the 286 cannot (SDM Vol.2B POPF).
  if ((op === '9D' || op === 'CF') && ((got.flags ^ exp.flags) & ~0xf000) === 0) return '386 loads IOPL/NT in real mode (POPF/IRET)';
  // An SS-relative operand beyond the SS limit: the 386 raises #SS (SDM Vol.2, "Real-Address Mode
  // Exceptions" of each instruction); the 286 raised #GP.
  if (t.exception?.number === 13 && raised === 12) return 'stack-segment limit violation: #SS on the 386, #GP on the 286';
  // The 286 limits instructions to 10 bytes (#UD); the 386 allows 15 (SDM Vol.2A §2.1).
  if (t.bytes.length - 1 > 10 && raised === -1) return '286 10-byte instruction limit (#UD); the 386 allows 15 bytes';
  // MOV to/from Sreg 4 and 5: FS and GS exist from the 386 on; the 286 raises #UD.
  if ((op === '8C' || op === '8E') && [4, 5].includes((t.bytes[t.bytes.findIndex((b) => b === 0x8c || b === 0x8e) + 1] >> 3) & 7) && raised === -1) return 'FS/GS exist on the 386 (286: #UD)';
  // A word string access at offset FFFFh: the 286 wraps within the segment; the 386 raises #GP/#SS
  // (SDM Vol.3A ch.22, "Segment Wraparound").
  const strWord = ['A5', 'A7', 'AB', 'AD', 'AF', '6D', '6F'];
  if (strWord.includes(op) && [t.initial.regs.si, t.initial.regs.di].includes(0xffff) && (raised === 13 || raised === 12)) return '286 wraps a word string access at offset FFFFh; the 386 faults';
  return null;
}

/** Memory map of the test machine: 16 MiB of RAM, every port reads all ones. */
function makeCpu(): Cpu {
  const mem = new PhysMemory(16 << 20);
  const io = { ioRead: (_p: number, size: number) => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff), ioWrite: () => {} };
  return new Cpu(mem, io);
}

const REG_ORDER: (keyof Regs)[] = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];

export function runSstFile(path: string, revoked: Set<string>, limit = Infinity): FileResult {
  const file = path.split('/').pop()!;
  const op = file.replace('.json.gz', '');
  const [opHex, grpStr] = op.split('.');
  const code = opHex.length === 4 ? 0x100 | parseInt(opHex.slice(2), 16) : parseInt(opHex, 16);
  const tests = JSON.parse(gunzipSync(readFileSync(path)).toString('utf8')) as SstTest[];
  const cpu = makeCpu();
  const mem = cpu.mem;
  const res: FileResult = { file, passed: 0, failed: 0, known: 0, failures: [] };
  for (const t of tests.slice(0, limit)) {
    if (revoked.has(t.hash)) continue;
    const reg = grpStr !== undefined ? parseInt(grpStr, 10) : (t.bytes.length > 1 ? (t.bytes[1] >> 3) & 7 : 0);
    const def = lookup(code, reg);
    const undef = flagMask(def?.u);
    // Initial state.
    cpu.reset();
    cpu.lastException = -1;
    for (const [a, v] of t.initial.ram) mem.write8(a, v);
    const r = t.initial.regs;
    cpu.setupReal(r.cs, r.ip, r.ss, r.sp);
    REG_ORDER.forEach((name, k) => { cpu.r32[k] = r[name]; });
    for (const [s, v] of [[ES, r.es], [DS, r.ds]] as const) {
      cpu.segSel[s] = v; cpu.segBase[s] = v << 4; cpu.recomputeSegWindow(s);
    }
    cpu.setEflags((r.flags & REAL_MODE_FLAGS) | 2);
    cpu.updateMode();
    const exit = cpu.run(1000);
    const got: Regs = {
      ax: cpu.r16[0], cx: cpu.r16[2], dx: cpu.r16[4], bx: cpu.r16[6], sp: cpu.r16[8], bp: cpu.r16[10], si: cpu.r16[12], di: cpu.r16[14],
      cs: cpu.segSel[CS], ss: cpu.segSel[SS], ds: cpu.segSel[DS], es: cpu.segSel[ES], ip: cpu.eip & 0xffff, flags: cpu.getEflags() & 0xffff,
    };
    const exp = { ...r, ...t.final.regs } as Regs;
    const diffs: string[] = [];
    if (exit !== Exit.Halt) diffs.push(`exit=${exit} ${cpu.guestError}`);
    for (const k of Object.keys(exp) as (keyof Regs)[]) {
      if (k === 'flags') {
        const m = ~undef & 0xffff;
        if (((got.flags ^ exp.flags) & m & 0x0fff) !== 0) diffs.push(`flags got ${got.flags.toString(16)} want ${exp.flags.toString(16)} (undefined mask ${undef.toString(16)})`);
      } else if (got[k] !== exp[k]) diffs.push(`${k} got ${got[k].toString(16)} want ${exp[k].toString(16)}`);
    }
    // The pushed FLAGS image lies at SS:SP+4 after the exception frame (the vectors'
    // flag_address is rounded down to even for odd stack pointers).
    const flagAddr = t.exception ? exp.ss * 16 + ((exp.sp + 4) & 0xffff) : undefined;
    for (const [a, v] of t.final.ram) {
      let g = mem.ram[a], w = v;
      if (flagAddr !== undefined && (a === flagAddr || a === flagAddr + 1)) {
        // Mask undefined flags (and bits 12-15) in the FLAGS image the exception pushed.
        const m = a === flagAddr ? ~undef & 0xff : ((~undef & 0x0fff) >> 8);
        g &= m; w &= m;
      }
      if (g !== w) diffs.push(`ram[${a.toString(16)}] got ${mem.ram[a].toString(16)} want ${v.toString(16)}`);
    }
    // Clean the memory this test touched.
    for (const [a] of t.initial.ram) mem.ram[a] = 0;
    for (const [a] of t.final.ram) mem.ram[a] = 0;
    if (diffs.length === 0) { res.passed++; continue; }
    const lockInvalid = t.bytes.slice(0, t.bytes.length - 1).includes(0xf0) && (!def?.lockable || (t.bytes.length > 2 && modrmIsReg(t.bytes)));
    const why = knownDifference(opHex, t, got, lockInvalid, cpu.lastException);
    if (why) { res.known++; res.failures.push(`#${t.idx} ${t.name}: known difference: ${why}`); continue; }
    res.failed++;
    if (res.failures.length < 5) res.failures.push(`#${t.idx} ${t.name} [${t.bytes.map((x) => x.toString(16)).join(' ')}]: ${diffs.join('; ')}`);
  }
  return res;
}

/** True when the ModRM byte after the prefixes and opcode names a register (mod == 3). */
function modrmIsReg(bytes: number[]): boolean {
  let k = 0;
  while ([0x26, 0x2e, 0x36, 0x3e, 0xf0, 0xf2, 0xf3].includes(bytes[k])) k++;
  return bytes[k + 1] !== undefined && (bytes[k + 1] >> 6) === 3;
}

export function sstFiles(): string[] {
  const dir = join(SST_DIR, 'v1_real_mode');
  return readdirSync(dir).filter((f) => f.endsWith('.json.gz')).sort().map((f) => join(dir, f));
}

export function revocationList(): Set<string> {
  const p = join(SST_DIR, 'revocation_list.txt');
  if (!existsSync(p)) return new Set();
  return new Set(readFileSync(p, 'utf8').split(/\s+/).filter(Boolean));
}
