// The disassembler against GNU objdump (binutils 2.40 was used to write the rules):
// the fixture binaries in fixtures/disasm/ are listed by both, instruction for
// instruction. The few places where ts86 deliberately differs are listed in
// EXCEPTIONS, and the test checks that the list is exact (no stale entries).
import { describe, expect, it, vi, afterEach } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { decodeAt, disassemble, disassembleOne, formatListing, addressWidth } from '../../src/debug/disasm';
import { TABLE } from '../../src/cpu/table';
import { disasmListing, registerDisasmCommand } from '../../src/cli/disasm';
import { UserError } from '../../src/cli/errors';

const FIXTURES = fileURLToPath(new URL('../../fixtures/disasm', import.meta.url));

interface Fixture { name: string; bits: 16 | 32; org: number; machine: string }
const FIXTURE_LIST: Fixture[] = [
  { name: 'code32', bits: 32, org: 0, machine: 'i386' },
  { name: 'code16', bits: 16, org: 0x7c00, machine: 'i8086' },
];

/**
 * Deliberate differences from objdump, by instruction bytes.
 * - D6 is SALC, an undocumented but real 8086-Pentium instruction that the table
 *   implements; objdump does not know it and prints (bad).
 * - F0 0F 22 /r: objdump reads LOCK MOV CRn as AMD's alternate encoding of CR(n+8)
 *   (cr8 = TPR in long mode). The ts86 CPU has no CR8 and raises #UD on it, so the
 *   listing shows what ts86 executes: the LOCK prefix and CR0.
 */
const EXCEPTIONS_ALL = [
  { bytes: 'd6', objdump: '(bad)', ts86: 'salc' },
  { bytes: 'f0 0f 22 c0', objdump: 'mov cr8,eax', ts86: 'lock mov cr0,eax' },
];
/*
 * - 0F 1A, 0F 1B, 0F 1C: the P6 hint-NOP space, which the ts86 CPU (family 6, no MPX, no
 *   CLDEMOTE) executes as NOP Ev; objdump names them after the later MPX and CLDEMOTE
 *   extensions that took them over.
 */
const EXCEPTIONS_BY_BITS: Record<16 | 32, { bytes: string; objdump: string; ts86: string }[]> = {
  32: [
    { bytes: '0f 1a 00', objdump: 'bndldx bnd0,[eax]', ts86: 'nop DWORD PTR [eax]' },
    { bytes: '66 0f 1a 00', objdump: 'bndmov bnd0,[eax]', ts86: 'nop WORD PTR [eax]' },
    { bytes: '0f 1b 00', objdump: 'bndstx [eax],bnd0', ts86: 'nop DWORD PTR [eax]' },
    { bytes: '66 0f 1b 00', objdump: 'bndmov [eax],bnd0', ts86: 'nop WORD PTR [eax]' },
    { bytes: '0f 1c 00', objdump: 'cldemote BYTE PTR [eax]', ts86: 'nop DWORD PTR [eax]' },
  ],
  16: [
    { bytes: '0f 1a 00', objdump: 'bndldx bnd0,(bad)', ts86: 'nop WORD PTR [bx+si]' },
    { bytes: '66 0f 1a 00', objdump: 'bndmov bnd0,(bad)', ts86: 'nop DWORD PTR [bx+si]' },
    { bytes: '0f 1b 00', objdump: 'bndstx (bad),bnd0', ts86: 'nop WORD PTR [bx+si]' },
    { bytes: '66 0f 1b 00', objdump: 'bndmov (bad),bnd0', ts86: 'nop DWORD PTR [bx+si]' },
    { bytes: '0f 1c 00', objdump: 'cldemote BYTE PTR [bx+si]', ts86: 'nop WORD PTR [bx+si]' },
  ],
};

interface Row { addr: number; bytes: string; text: string }

const norm = (s: string): string => s.replace(/\s+/g, ' ').trim();
const hexBytes = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** objdump's listing lines: instruction lines and their byte-continuation lines. */
function listingLines(out: string): string[] {
  return out.split('\n').filter((l) => /^ *[0-9a-f]+:\t/.test(l));
}

/** Folds objdump's listing (continuation lines included) into one row per instruction. */
function objdumpRows(lines: string[]): Row[] {
  const rows: Row[] = [];
  for (const l of lines) {
    const [a, b, text] = l.split('\t');
    const addr = parseInt(a.trim().slice(0, -1), 16);
    if (text === undefined) rows[rows.length - 1].bytes += ' ' + b.trim();
    else rows.push({ addr, bytes: b.trim(), text: norm(text) });
  }
  return rows;
}

function runObjdump(f: Fixture): string {
  const args = ['-D', '-z', '-b', 'binary', '-m', f.machine, '-M', 'intel'];
  if (f.org) args.push(`--adjust-vma=${f.org}`);
  const r = spawnSync('objdump', [...args, join(FIXTURES, `${f.name}.bin`)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`objdump failed: ${r.stderr}`);
  return r.stdout;
}

const objdumpVersion = spawnSync('objdump', ['--version'], { encoding: 'utf8' });
const haveObjdump = objdumpVersion.status === 0 && /GNU objdump/.test(objdumpVersion.stdout ?? '');

const load = (f: Fixture): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, `${f.name}.bin`)));

describe.skipIf(!haveObjdump)('disassembler vs GNU objdump -M intel', () => {
  for (const f of FIXTURE_LIST) {
    describe(`${f.name} (${f.bits}-bit, org ${f.org.toString(16)})`, () => {
      const od = haveObjdump ? runObjdump(f) : '';
      const bytes = load(f);
      const ours = disassemble(bytes, { bits: f.bits, org: f.org });

      it('agrees instruction for instruction (address, bytes, text), except the listed exceptions', () => {
        const theirs = objdumpRows(listingLines(od));
        expect(ours.length).toBe(theirs.length);
        const differences: { bytes: string; objdump: string; ts86: string }[] = [];
        for (let k = 0; k < theirs.length; k++) {
          const o = ours[k], t = theirs[k];
          expect({ addr: o.addr, bytes: hexBytes(o.bytes) }).toEqual({ addr: t.addr, bytes: t.bytes });
          if (norm(o.text) !== t.text) differences.push({ bytes: t.bytes, objdump: t.text, ts86: norm(o.text) });
        }
        const exceptions = [...EXCEPTIONS_ALL, ...EXCEPTIONS_BY_BITS[f.bits]];
        for (const d of differences) expect(exceptions).toContainEqual(d);
        // Every exception is exercised by the fixture, so the list cannot go stale.
        for (const e of exceptions) expect(differences).toContainEqual(e);
      });

      it('prints the same listing layout (columns, continuation lines)', () => {
        const theirs = listingLines(od);
        const mine = formatListing(ours, { endAddr: f.org + bytes.length });
        expect(mine.length).toBe(theirs.length);
        const exceptional = new Set([...EXCEPTIONS_ALL, ...EXCEPTIONS_BY_BITS[f.bits]].map((e) => e.bytes));
        for (let k = 0; k < theirs.length; k++) {
          const cols = theirs[k].split('\t');
          if (cols[2] !== undefined && exceptional.has(norm(cols[1]))) continue;
          expect(mine[k]).toBe(theirs[k]);
        }
      });
    });
  }
});

describe('fixture coverage', () => {
  for (const f of FIXTURE_LIST) {
    it(`${f.name} holds every integer instruction of the table at both operand sizes`, () => {
      const bytes = load(f);
      const seen = new Map<string, Set<number>>();
      const key = (code: number, grp: number | undefined): string => `${code.toString(16)}/${grp ?? '-'}`;
      for (const l of disassemble(bytes, { bits: f.bits, org: 0 })) {
        const i = decodeAt(bytes, l.addr, f.bits);
        if (typeof i === 'string' || !i.def || l.text.includes('(bad)')) continue;
        const k = key(i.def.code, i.def.grp);
        if (!seen.has(k)) seen.set(k, new Set());
        seen.get(k)?.add(i.osize);
      }
      const missing: string[] = [];
      for (const d of TABLE) {
        if (d.fpu) continue;
        const sizes = seen.get(key(d.code, d.grp));
        if (!sizes) { missing.push(`${d.mnem} ${key(d.code, d.grp)}`); continue; }
        const sized = d.mnem.includes('|') || d.args.some((a) => /^(E|G|Z|M)v$|^eAX$|^I[zv]$|^J[z]$|^[XYO]v$|^Mp$|^Ma$/.test(a));
        if (sized && sizes.size < 2) missing.push(`${d.mnem} ${key(d.code, d.grp)} at osize ${[...sizes].join()}`);
      }
      expect(missing).toEqual([]);
    });
  }
});

describe('spellings (no objdump needed)', () => {
  const h = (s: string): Uint8Array => new Uint8Array(s.split(' ').map((x) => parseInt(x, 16)));
  const one = (bits: 16 | 32, s: string, addr = 0): string => norm(disassembleOne(h(s), 0, addr, bits).text);
  it.each([
    [32, '31 c0', 'xor eax,eax'],
    [32, 'f3 a4', 'rep movs BYTE PTR es:[edi],BYTE PTR ds:[esi]'],
    [32, 'f3 a6', 'repz cmps BYTE PTR ds:[esi],BYTE PTR es:[edi]'],
    [32, '26 a0 34 12 00 00', 'mov al,es:0x1234'],
    [32, 'ea 78 56 34 12 34 12', 'jmp 0x1234:0x12345678'],
    [32, '66 0f b7 84 88 44 33 22 11', 'movzx ax,WORD PTR [eax+ecx*4+0x11223344]'],
    [32, '8b 04 25 34 12 00 00', 'mov eax,DWORD PTR [eiz*1+0x1234]'],
    [32, '0f 01 10', 'lgdtd [eax]'],
    [32, '0f 22 c0', 'mov cr0,eax'],
    [32, '66 60', 'pushaw'],
    [16, '66 60', 'pushad'],
    [32, 'd3 30', 'shl DWORD PTR [eax],cl'],
    [32, 'fe', '.byte 0xfe'],
    [32, '66 f8', 'data16 clc'],
    [16, '67 e3 00', 'jecxz 0x3'],
    [16, '8b 46 00', 'mov ax,WORD PTR [bp+0x0]'],
    [16, 'ff 2e 34 12', 'jmp DWORD PTR ds:0x1234'],
    [32, '9b df e0', 'fstsw ax'],
    [32, '9b da 01', 'fiadd DWORD PTR [ecx]'],
    [16, '66 dd 37', 'fnsaved [bx]'],
    [32, '66 d9 27', 'fldenvw [edi]'],
    [32, 'f3 f2 a4', 'rep repnz movs BYTE PTR es:[edi],BYTE PTR ds:[esi]'],
    [32, 'f0 f2 f3 01 00', 'lock xacquire xrelease add DWORD PTR [eax],eax'],
    [32, '8c f4', 'mov esp,?'],
    [32, '0f a0', 'push fs'],
  ] as const)('%i-bit %s → %s', (bits, bytes, text) => {
    expect(one(bits, bytes)).toBe(text);
  });

  it('prints (bad) for an invalid group member, covering only the opcode as objdump does', () => {
    const r = disassemble(h('fe f8 90'), { bits: 32, org: 0 });
    expect(r.map((l) => [l.addr, norm(l.text)])).toEqual([[0, '(bad)'], [1, 'clc'], [2, 'nop']]);
  });

  it('lays out the address column and long instructions like objdump', () => {
    expect(addressWidth(0xfff)).toBe(4);
    expect(addressWidth(0x1000)).toBe(8);
    const lines = formatListing(disassemble(h('31 c0 81 84 88 44 33 22 11 78 56 34 12'), { bits: 32, org: 0x7c00 }));
    expect(lines).toEqual([
      '    7c00:\t31 c0                \txor    eax,eax',
      '    7c02:\t81 84 88 44 33 22 11 \tadd    DWORD PTR [eax+ecx*4+0x11223344],0x12345678',
      '    7c09:\t78 56 34 12 ',
    ]);
  });
});

describe('ts86 disasm (CLI)', () => {
  afterEach(() => { vi.restoreAllMocks(); });
  const file16 = join(FIXTURES, 'code16.bin');

  async function run(args: string[]): Promise<string> {
    const chunks: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      chunks.push(typeof s === 'string' ? s : Buffer.from(s).toString());
      return true;
    });
    const program = new Command().exitOverride();
    registerDisasmCommand(program);
    await program.parseAsync(['node', 'ts86', 'disasm', ...args]);
    return chunks.join('');
  }

  it('prints the listing of a file at --org', async () => {
    const out = await run([file16, '--bits', '16', '--org', '0x7c00']);
    const lines = out.split('\n');
    expect(lines[0]).toBe('    7c00:\t00 48 04             \tadd    BYTE PTR [bx+si+0x4],cl');
    expect(out).toBe(disasmListing(file16, { bits: '16', org: '31744' }).join('\n') + '\n');
  });

  it('rejects bad input with a one-line UserError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts86-disasm-'));
    try {
      await expect(run([join(dir, 'missing.bin')])).rejects.toThrow(UserError);
      await expect(run([join(dir, 'missing.bin')])).rejects.toThrow(/cannot read .*missing\.bin: no such file/);
      await expect(run([dir])).rejects.toThrow(/is a directory/);
      await expect(run([file16, '--bits', '64'])).rejects.toThrow(/--bits must be 16 or 32/);
      await expect(run([file16, '--org', '0x'])).rejects.toThrow(/--org must be an address/);
      await expect(run([file16, '--org', 'zz'])).rejects.toThrow(UserError);
      await expect(run([file16, '--org', '0x100000000'])).rejects.toThrow(UserError);
      await expect(run([file16, '--org', '0xffffffff'])).rejects.toThrow(/past 4 GiB/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
