// fpuMnemonic against GNU objdump -M intel (when binutils is installed), plus a
// few fixed expectations that run everywhere.

import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fpuMnemonic } from '../../src/cpu/fpu/disasm.js';

describe('fpuMnemonic fixed cases', () => {
  it('formats register, memory and special forms', () => {
    expect(fpuMnemonic(0xdd, 0x03, '[ebx]')).toBe('fld QWORD PTR [ebx]');
    expect(fpuMnemonic(0xd8, 0xc1, null)).toBe('fadd st,st(1)');
    expect(fpuMnemonic(0xde, 0xc1, null)).toBe('faddp st(1),st');
    expect(fpuMnemonic(0xd9, 0xc9, null)).toBe('fxch st(1)');
    expect(fpuMnemonic(0xdc, 0xe9, null)).toBe('fsub st(1),st');
    expect(fpuMnemonic(0xdc, 0xe1, null)).toBe('fsubr st(1),st');
    expect(fpuMnemonic(0xdb, 0x2b, '[ebx]')).toBe('fld TBYTE PTR [ebx]');
    expect(fpuMnemonic(0xdf, 0x33, '[ebx+0x4]')).toBe('fbstp TBYTE PTR [ebx+0x4]');
    expect(fpuMnemonic(0xd9, 0x30, '[eax]')).toBe('fnstenv [eax]');
    expect(fpuMnemonic(0xd9, 0x30, '[eax]', { osize16: true, wait: true })).toBe('fstenvw [eax]');
    expect(fpuMnemonic(0xdb, 0xe3, null, { wait: true })).toBe('finit');
    expect(fpuMnemonic(0xdf, 0xe0, null)).toBe('fnstsw ax');
    expect(fpuMnemonic(0xda, 0xe9, null)).toBe('fucompp');
    expect(fpuMnemonic(0xd9, 0xd8, null)).toBe('(bad)');
  });
});

function objdumpAvailable(): boolean {
  const r = spawnSync('objdump', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

describe.skipIf(!objdumpAvailable())('fpuMnemonic vs objdump -M intel', () => {
  it('matches every D8..DF register form and the memory forms', () => {
    const bytes: number[] = [];
    // memory operands with different addressing: [eax], [ebx+0x4], [esp+ecx*2-0x10], ds:0x1234
    const memEnc = [[0x00], [0x43, 0x04], [0x44, 0x4c, 0xf0], [0x05, 0x34, 0x12, 0x00, 0x00]];
    for (let op = 0xd8; op <= 0xdf; op++) {
      for (let r = 0; r < 8; r++) {
        for (const enc of memEnc) bytes.push(op, (r << 3) | enc[0]!, ...enc.slice(1));
        bytes.push(0x64, op, r << 3); // fs:[eax]
      }
      for (let m = 0xc0; m <= 0xff; m++) bytes.push(op, m);
    }
    // WAIT-folded and 16-bit operand-size forms
    const extra = [[0x9b, 0xdb, 0xe3], [0x9b, 0xdb, 0xe2], [0x9b, 0xdf, 0xe0], [0x9b, 0xdd, 0x30], [0x9b, 0xd9, 0x38],
      [0x9b, 0xdd, 0x38], [0x9b, 0xd9, 0x30], [0x66, 0xd9, 0x20], [0x66, 0xdd, 0x20], [0x66, 0xdd, 0x30], [0x66, 0xd9, 0x30], [0x9b, 0x66, 0xd9, 0x30], [0x9b, 0x66, 0xdd, 0x30]];
    for (const e of extra) bytes.push(...e);
    const dir = mkdtempSync(join(tmpdir(), 'fpudis-'));
    const f = join(dir, 'x.bin');
    writeFileSync(f, Uint8Array.from(bytes));
    const r = spawnSync('objdump', ['-D', '-b', 'binary', '-m', 'i386', '-M', 'intel', f], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    let n = 0;
    const bad: string[] = [];
    for (const line of r.stdout.split('\n')) {
      const m = /^\s*[0-9a-f]+:\t([0-9a-f ]+?)\s*\t(.*)$/.exec(line);
      if (!m) continue;
      let bs = m[1]!.split(' ').map((h) => parseInt(h, 16));
      const want = m[2]!.replace(/\s+/g, ' ').trim();
      let wait = false, osize16 = false, seg = '';
      for (;;) {
        if (bs[0] === 0x9b && bs.length > 1) { wait = true; bs = bs.slice(1); continue; }
        if (bs[0] === 0x66) { osize16 = true; bs = bs.slice(1); continue; }
        if (bs[0] === 0x64) { seg = 'fs:'; bs = bs.slice(1); continue; }
        break;
      }
      if (bs.length < 2 || bs[0]! < 0xd8 || bs[0]! > 0xdf) continue;
      const [op, modrm] = [bs[0]!, bs[1]!];
      let mem: string | null = null;
      if (modrm < 0xc0) {
        // the bracket expression objdump printed (after "PTR " or after the mnemonic)
        const k = want.indexOf('PTR ');
        mem = k >= 0 ? want.slice(k + 4) : want.slice(want.indexOf(' ') + 1);
        expect(mem.startsWith(seg) || mem.startsWith('ds:')).toBe(true);
      }
      const got = fpuMnemonic(op, modrm, mem, { wait, osize16 });
      n++;
      if (got !== want) bad.push(`${m[1]}: objdump "${want}" ours "${got}"`);
    }
    console.log(`fpu disasm vs objdump: ${n - bad.length}/${n} agreed`);
    expect(bad).toEqual([]);
    expect(n).toBeGreaterThan(8 * 64 + 8 * 8 * 5);
  });
});
