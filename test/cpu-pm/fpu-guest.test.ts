// The x87 unit behind the integer core: ESC decoding, memory operands through
// segmentation, FNSTSW AX, FCOMI's EFLAGS, and the lazy-FPU protocol (#NM on CR0.TS).
import { describe, expect, it } from 'vitest';
import { X87 } from '../../src/cpu/fpu/x87';
import { CODE, VEC, makePmCpu } from './pm-harness';

const A = 0x6000, B = 0x6004, C = 0x6008;
// finit; fld dword [A]; fadd dword [B]; fst dword [C]; fcomi st, st(0)... fld1; fcomip st,st(1); fnstsw ax; hlt
const PROG = [
  0xdb, 0xe3, // fninit
  0xd9, 0x05, 0x00, 0x60, 0x00, 0x00, // fld dword [0x6000]
  0xd8, 0x05, 0x04, 0x60, 0x00, 0x00, // fadd dword [0x6004]
  0xd9, 0x15, 0x08, 0x60, 0x00, 0x00, // fst dword [0x6008]
  0xd9, 0xe8, // fld1
  0xdf, 0xf1, // fcomip st, st(1)   (1.0 < 3.75 -> CF=1, ZF=0)
  0xdf, 0xe0, // fnstsw ax
  0xf4,
];

function f32(v: number): number { const b = new DataView(new ArrayBuffer(4)); b.setFloat32(0, v, true); return b.getUint32(0, true); }

describe('x87 through the integer core', () => {
  it('loads, adds and stores through memory operands; FCOMIP sets EFLAGS; FNSTSW AX', () => {
    const cpu = makePmCpu(PROG);
    cpu.fpu = new X87();
    cpu.fpu.reset();
    cpu.mem.write32(A, f32(1.5));
    cpu.mem.write32(B, f32(2.25));
    cpu.run(100);
    expect(cpu.halted).toBe(true);
    expect(cpu.mem.read32(VEC)).toBe(0xffffffff); // no exception on the way
    expect(cpu.mem.read32(C)).toBe(f32(3.75));
    expect(cpu.getEflags() & 1).toBe(1); // CF: 1.0 < 3.75
    expect(cpu.getEflags() & 0x40).toBe(0);
    expect((cpu.r16[0] >> 11) & 7).toBe(7); // TOP after one push left: 7
  });

  it('CR0.TS makes the first ESC instruction raise #NM (lazy FPU switching); CLTS lets it run', () => {
    const cpu = makePmCpu(PROG);
    cpu.fpu = new X87();
    cpu.cr0 |= 1 << 3; // TS
    cpu.run(100);
    expect(cpu.mem.read32(VEC)).toBe(7);
    // The handler would CLTS and IRET; do that here and restart at the faulting instruction.
    expect(cpu.mem.read32(cpu.r32[4])).toBe(CODE);
    cpu.cr0 &= ~(1 << 3);
    cpu.mem.write32(VEC, 0xffffffff);
    cpu.mem.write32(A, f32(1.5));
    cpu.mem.write32(B, f32(2.25));
    cpu.eip = CODE; cpu.halted = false; cpu.r32[4] = 0x8000;
    cpu.run(100);
    expect(cpu.mem.read32(C)).toBe(f32(3.75));
  });

  it('CPUID reports FPU and FXSR once the unit is attached, and FXSAVE stores the control word', () => {
    // cpuid; fninit; fxsave [0x7000]; hlt. (After RESET FCW is 0x0040, SDM Vol.3A Table 9-1; FNINIT makes it 0x037F.)
    const cpu = makePmCpu([0x0f, 0xa2, 0xdb, 0xe3, 0x0f, 0xae, 0x05, 0x00, 0x70, 0x00, 0x00, 0xf4]);
    cpu.fpu = new X87();
    cpu.fpu.reset();
    cpu.r32[0] = 1;
    cpu.run(10);
    expect(cpu.r32[2] & 1).toBe(1);
    expect(cpu.r32[2] & (1 << 24)).toBe(1 << 24);
    expect(cpu.mem.read16(0x7000)).toBe(0x037f); // FCW after reset (FINIT state)
  });
});
