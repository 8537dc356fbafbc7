// ModRM/SIB effective addresses at both address sizes (SDM Vol.2A §2.1.5, Tables 2-1..2-3):
// every mod / base / index / scale, ESP and EBP bases (default segment SS), mod 0 base 5 =
// disp32 without base (default DS), index 4 = none; LEA and memory loads agree.
import { describe, expect, it } from 'vitest';
import { Harness, le32, le16 } from '../helpers/cpu-harness';
import { SS, DS, EDX } from '../../src/cpu/consts';

const REGV = [0x4000, 0x4404, 0x4808, 0x4c0c, 0x5010, 0x5414, 0x5818, 0x5c1c];
const SS_BASE = 0x40000;
const DISP8 = [0x7f, 0x80];
const DISP32 = 0x20001;

function rnd(seed: number): () => number {
  let x = seed >>> 0;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x & 0xff; };
}

describe('32-bit addressing', () => {
  const h = new Harness(2).flat32([0xf4]);
  const r = rnd(12345);
  for (let a = 0x20000; a < 0x200000; a++) h.w8(a, r());

  it('LEA and MOV r32, [sib] for every mod/scale/index/base', () => {
    let checked = 0;
    for (const mod of [0, 1, 2]) for (let scale = 0; scale < 4; scale++) for (let index = 0; index < 8; index++) for (let base = 0; base < 8; base++) {
      const sib = (scale << 6) | (index << 3) | base;
      const noBase = mod === 0 && base === 5;
      const dispBytes = noBase || mod === 2 ? le32(DISP32) : mod === 1 ? [DISP8[(index + base) & 1]] : [];
      const disp = noBase || mod === 2 ? DISP32 : mod === 1 ? (DISP8[(index + base) & 1] << 24) >> 24 : 0;
      const regs: Record<number, number> = {};
      REGV.forEach((v, k) => { regs[k] = v; });
      const off = ((noBase ? 0 : REGV[base]) + (index === 4 ? 0 : REGV[index] << scale) + disp) >>> 0;
      const ctx = `mod=${mod} ss=${scale} idx=${index} base=${base}`;
      // lea edx, [...]   (reg field = EDX)
      h.exec([0x8d, (mod << 6) | (EDX << 3) | 4, sib, ...dispBytes], regs);
      expect(h.edx, `lea ${ctx}`).toBe(off);
      // mov edx, [...] with SS based at SS_BASE: ESP/EBP bases (except the no-base form) use SS.
      h.setSeg(SS, SS_BASE, 0xffffffff);
      h.exec([0x8b, (mod << 6) | (EDX << 3) | 4, sib, ...dispBytes], regs);
      const seg = !noBase && (base === 4 || base === 5) ? SS : DS;
      const lin = (seg === SS ? SS_BASE : 0) + off;
      expect(h.edx, `mov ${ctx} (seg ${seg === SS ? 'ss' : 'ds'})`).toBe(h.r32(lin));
      h.setSeg(SS, 0, 0xffffffff);
      checked++;
    }
    expect(checked).toBe(3 * 4 * 8 * 8);
  });

  it('ModRM without SIB: rm 0-7 for mods 0-2 (rm 5 mod 0 = disp32, EBP base = SS)', () => {
    for (const mod of [0, 1, 2]) for (let rm = 0; rm < 8; rm++) {
      if (rm === 4) continue;
      const noBase = mod === 0 && rm === 5;
      const dispBytes = noBase || mod === 2 ? le32(DISP32) : mod === 1 ? [0x80] : [];
      const disp = noBase || mod === 2 ? DISP32 : mod === 1 ? -0x80 : 0;
      const regs: Record<number, number> = {};
      REGV.forEach((v, k) => { regs[k] = v; });
      const off = ((noBase ? 0 : REGV[rm]) + disp) >>> 0;
      h.exec([0x8d, (mod << 6) | (EDX << 3) | rm, ...dispBytes], regs);
      expect(h.edx, `lea mod=${mod} rm=${rm}`).toBe(off);
      h.setSeg(SS, SS_BASE, 0xffffffff);
      h.exec([0x8b, (mod << 6) | (EDX << 3) | rm, ...dispBytes], regs);
      const lin = (!noBase && rm === 5 ? SS_BASE : 0) + off;
      expect(h.edx, `mov mod=${mod} rm=${rm}`).toBe(h.r32(lin));
      h.setSeg(SS, 0, 0xffffffff);
    }
  });

  it('segment override beats the SS default; 32-bit offsets wrap modulo 2^32', () => {
    h.setSeg(SS, SS_BASE, 0xffffffff);
    h.exec([0x3e, 0x8b, 0x55, 0x00], { 5: 0x30000 }); // mov edx, ds:[ebp+0]
    expect(h.edx).toBe(h.r32(0x30000));
    h.setSeg(SS, 0, 0xffffffff);
    h.exec([0x8b, 0x94, 0x18, ...le32(0x30000)], { 0: 0xfffffff0, 3: 0x20 }); // mov edx, [eax+ebx+0x30000]
    expect(h.edx).toBe(h.r32(0x30010));
  });
});

describe('16-bit addressing (67 prefix in 32-bit code)', () => {
  const h = new Harness(2).flat32([0xf4]);
  const r = rnd(999);
  for (let a = 0x20000; a < 0x80000; a++) h.w8(a, r());
  const BASE16 = [[3, 6], [3, 7], [5, 6], [5, 7], [6], [7], [5], [3]];
  it('all rm / mod combinations, BP-based defaults to SS, offsets wrap at 64 KiB', () => {
    const v16 = [0x1111, 0x2222, 0x3333, 0x8444, 0x5555, 0x9666, 0xa777, 0x3888];
    for (const mod of [0, 1, 2]) for (let rm = 0; rm < 8; rm++) {
      const direct = mod === 0 && rm === 6;
      const dispBytes = direct || mod === 2 ? le16(0xfff0) : mod === 1 ? [0x90] : [];
      const disp = direct || mod === 2 ? 0xfff0 : mod === 1 ? -0x70 : 0;
      const regs: Record<number, number> = {};
      v16.forEach((v, k) => { regs[k] = 0xabcd0000 | v; });
      const off = direct ? 0xfff0 : (BASE16[rm].reduce((s, k) => s + v16[k], 0) + disp) & 0xffff;
      h.exec([0x67, 0x8d, (mod << 6) | (EDX << 3) | rm, ...dispBytes], regs);
      expect(h.edx, `lea16 mod=${mod} rm=${rm}`).toBe(off);
      h.setSeg(SS, 0x50000, 0xffffffff);
      h.setSeg(DS, 0x30000, 0xffffffff);
      h.exec([0x67, 0x8b, (mod << 6) | (EDX << 3) | rm, ...dispBytes], regs);
      const ss = !direct && (rm === 2 || rm === 3 || rm === 6);
      expect(h.edx, `mov16 mod=${mod} rm=${rm}`).toBe(h.r32((ss ? 0x50000 : 0x30000) + off));
      h.setSeg(SS, 0, 0xffffffff);
      h.setSeg(DS, 0, 0xffffffff);
    }
  });
});
