// String instructions: MOVS CMPS STOS LODS SCAS INS OUTS with REP/REPE/REPNE at both
// address sizes, DF=1, segment overrides, and faults in the middle of a REP (SDM Vol.2B REP,
// Vol.3A §6.6: the registers reflect the completed iterations and EIP is the instruction).
import { describe, expect, it } from 'vitest';
import { Harness, DATA, CODE, STACK_TOP } from '../helpers/cpu-harness';
import { CF, ZF, SF, DF, EAX, ECX, EDX, ESI, EDI, GP, PF_, ES, FS, CR0_PG, SS_ } from '../../src/cpu/consts';
import { Exit } from '../../src/cpu/interfaces';

const SRC = DATA, DST = DATA + 0x1000;

function fill(h: Harness, at: number, n: number, f: (k: number) => number): void {
  for (let k = 0; k < n; k++) h.w8(at + k, f(k));
}

describe('MOVS / STOS / LODS', () => {
  const h = new Harness().flat32([0xf4]);
  it('rep movsb/movsw/movsd forward (32-bit addressing)', () => {
    for (const [code, size] of [[[0xf3, 0xa4], 1], [[0x66, 0xf3, 0xa5], 2], [[0xf3, 0xa5], 4]] as const) {
      fill(h, SRC, 64, (k) => k + 1);
      fill(h, DST, 64, () => 0);
      h.exec(code, { [ESI]: SRC, [EDI]: DST, [ECX]: 10 });
      for (let k = 0; k < 64; k++) expect(h.r8(DST + k), `size ${size} byte ${k}`).toBe(k < 10 * size ? k + 1 : 0);
      expect(h.ecx).toBe(0);
      expect(h.esi).toBe(SRC + 10 * size);
      expect(h.edi).toBe(DST + 10 * size);
    }
  });
  it('rep movsd backwards with DF=1', () => {
    fill(h, SRC, 64, (k) => k + 1);
    fill(h, DST, 64, () => 0);
    h.exec([0xf3, 0xa5], { [ESI]: SRC + 12, [EDI]: DST + 12, [ECX]: 4 }, DF);
    for (let k = 0; k < 64; k++) expect(h.r8(DST + k)).toBe(k < 16 ? k + 1 : 0);
    expect(h.esi).toBe(SRC - 4);
    expect(h.edi).toBe(DST - 4);
    expect(h.eflags & DF).toBe(DF);
  });
  it('rep with ECX = 0 does nothing', () => {
    fill(h, DST, 4, () => 0xee);
    h.exec([0xf3, 0xaa], { [EDI]: DST, [ECX]: 0, [EAX]: 0x11 }, CF | ZF);
    expect(h.r8(DST)).toBe(0xee);
    expect(h.edi).toBe(DST);
    expect(h.eflags & (CF | ZF)).toBe(CF | ZF);
  });
  it('67 prefix: 16-bit addressing uses SI/DI/CX and keeps the upper halves', () => {
    fill(h, 0xfff0, 0x20, (k) => k);
    fill(h, 0x8000, 0x10, () => 0);
    // a32 code, a16 rep movsb: SI wraps from FFFF to 0000 within DS (base 0)
    h.exec([0x67, 0xf3, 0xa4], { [ESI]: 0xabcd_fffe, [EDI]: 0x1234_8000, [ECX]: 0x5555_0004 });
    expect(h.ecx).toBe(0x5555_0000);
    expect(h.esi).toBe(0xabcd_0002);
    expect(h.edi).toBe(0x1234_8004);
    expect([h.r8(0x8000), h.r8(0x8001)]).toEqual([0x0e, 0x0f]);
    expect([h.r8(0x8002), h.r8(0x8003)]).toEqual([h.r8(0x0000), h.r8(0x0001)]);
  });
  it('67 prefix with a word at offset FFFF: the access runs past the 16-bit offset (#GP only if beyond the limit)', () => {
    // With a 4 GiB DS limit, offset FFFFh + 1 byte is inside the segment: the second byte
    // is at base + 10000h (only the offset computation wraps, not the bytes of the access).
    h.setSeg(3, 0x30000, 0xffffffff);
    h.w16(0x3ffff, 0xbeef);
    h.w8(0x30000, 0x99);
    h.exec([0x67, 0x66, 0xad], { [ESI]: 0xffff }); // a16 lodsw
    expect(h.eax & 0xffff).toBe(0xbeef);
    expect(h.esi).toBe(0x0001);
    h.setSeg(3, 0, 0xffffffff);
  });
  it('stos and lods at all sizes, both directions', () => {
    fill(h, DST, 32, () => 0);
    h.exec([0xf3, 0xab], { [EDI]: DST, [ECX]: 3, [EAX]: 0xa1b2c3d4 });
    expect([h.r32(DST), h.r32(DST + 8), h.r32(DST + 12)]).toEqual([0xa1b2c3d4, 0xa1b2c3d4, 0]);
    h.exec([0xfd, 0x66, 0xab], { [EDI]: DST + 2, [EAX]: 0x9999 });
    expect(h.r16(DST + 2)).toBe(0x9999);
    expect(h.edi).toBe(DST);
    h.w32(SRC, 0x44332211);
    h.exec([0xac, 0xac], { [ESI]: SRC, [EAX]: 0xffffffff });
    expect(h.eax).toBe(0xffffff22);
    expect(h.esi).toBe(SRC + 2);
  });
  it('movs source segment override (FS) applies; destination is always ES', () => {
    h.setSeg(FS, 0x30000, 0xffff);
    h.w32(0x30010, 0xfeedface);
    h.w32(DST, 0);
    h.exec([0x64, 0xa5], { [ESI]: 0x10, [EDI]: DST });
    expect(h.r32(DST)).toBe(0xfeedface);
    h.setSeg(ES, 0x40000, 0xffff);
    h.exec([0x64, 0xa5], { [ESI]: 0x10, [EDI]: 0x20 });
    expect(h.r32(0x40020)).toBe(0xfeedface);
    h.setSeg(ES, 0, 0xffffffff);
    h.setSeg(FS, 0, 0xffffffff);
  });
  it('a long rep (more than one internal chunk) completes, counting as one instruction', () => {
    const n = 10_000;
    const before = h.cpu.icount;
    h.exec([0xf3, 0xaa], { [EDI]: DATA, [ECX]: n, [EAX]: 0x5a });
    for (let k = 0; k < n; k += 997) expect(h.r8(DATA + k)).toBe(0x5a);
    expect(h.edi).toBe(DATA + n);
    // HLT plus the REP STOSB, which may be re-entered once per chunk.
    expect(h.cpu.icount - before).toBeLessThan(10);
  });
});

describe('CMPS / SCAS with REPE / REPNE', () => {
  const h = new Harness().flat32([0xf4]);
  it('repe cmpsb stops after the first mismatch with its flags', () => {
    fill(h, SRC, 16, (k) => k);
    fill(h, DST, 16, (k) => (k === 5 ? 0x80 : k));
    h.exec([0xf3, 0xa6], { [ESI]: SRC, [EDI]: DST, [ECX]: 16 });
    expect(h.ecx).toBe(10);
    expect(h.esi).toBe(SRC + 6);
    expect(h.edi).toBe(DST + 6);
    expect(h.eflags & (ZF | CF | SF)).toBe(CF | SF); // 5 - 0x80
  });
  it('repe cmpsd that runs out of count leaves ZF=1', () => {
    fill(h, SRC, 16, (k) => k);
    fill(h, DST, 16, (k) => k);
    h.exec([0xf3, 0xa7], { [ESI]: SRC, [EDI]: DST, [ECX]: 4 });
    expect(h.ecx).toBe(0);
    expect(h.eflags & ZF).toBe(ZF);
  });
  it('repne scasb finds a byte; not found exhausts ECX', () => {
    fill(h, DST, 32, (k) => (k === 20 ? 0 : 0x41));
    h.exec([0xf2, 0xae], { [EDI]: DST, [ECX]: 0xffffffff, [EAX]: 0 });
    expect(h.edi).toBe(DST + 21);
    expect(h.ecx).toBe(0xffffffff - 21);
    expect(h.eflags & ZF).toBe(ZF);
    h.exec([0xf2, 0xae], { [EDI]: DST, [ECX]: 10, [EAX]: 0 });
    expect(h.ecx).toBe(0);
    expect(h.edi).toBe(DST + 10);
    expect(h.eflags & ZF).toBe(0);
  });
  it('repne scasw backwards, 16-bit addressing', () => {
    fill(h, 0x9000, 32, () => 0);
    h.w16(0x9004, 0x1234);
    h.exec([0x67, 0x66, 0xf2, 0xaf], { [EDI]: 0x900e, [ECX]: 0x10, [EAX]: 0x1234 }, DF);
    expect(h.edi).toBe(0x9002);
    expect(h.ecx).toBe(0x10 - 6);
    expect(h.eflags & ZF).toBe(ZF);
  });
  it('repe scasd with mismatch at the first element', () => {
    h.w32(DST, 1);
    h.exec([0xf3, 0xaf], { [EDI]: DST, [ECX]: 5, [EAX]: 2 });
    expect(h.ecx).toBe(4);
    expect(h.eflags & ZF).toBe(0);
  });
});

describe('INS / OUTS through PortIo', () => {
  const h = new Harness().flat32([0xf4]);
  it('rep insb / insd and rep outsw record every access in order', () => {
    h.io.log.length = 0;
    h.io.inputs.set(0x60, [1, 2, 3]);
    h.exec([0xf3, 0x6c], { [EDI]: DST, [ECX]: 3, [EDX]: 0x60 });
    expect([h.r8(DST), h.r8(DST + 1), h.r8(DST + 2)]).toEqual([1, 2, 3]);
    expect(h.io.log).toEqual([1, 2, 3].map((v) => ({ dir: 'in', port: 0x60, size: 1, value: v })));
    h.io.log.length = 0;
    h.io.inputs.set(0x1f0, [0x11223344]);
    h.exec([0x6d], { [EDI]: DST, [EDX]: 0x1f0 });
    expect(h.r32(DST)).toBe(0x11223344);
    h.io.log.length = 0;
    h.w32(SRC, 0xbbbbaaaa);
    h.exec([0x66, 0xf3, 0x6f], { [ESI]: SRC, [ECX]: 2, [EDX]: 0x3f8 });
    expect(h.io.log).toEqual([
      { dir: 'out', port: 0x3f8, size: 2, value: 0xaaaa },
      { dir: 'out', port: 0x3f8, size: 2, value: 0xbbbb },
    ]);
  });
  it('in/out with imm8 and DX ports at all sizes', () => {
    h.io.log.length = 0;
    h.io.inputs.set(0x71, [0xab]);
    h.io.inputs.set(0xcfc, [0x8086_1237]);
    h.exec([0xe4, 0x71, 0x66, 0xe7, 0x80, 0xed, 0xee], { [EAX]: 0xffff_ffff, [EDX]: 0xcfc });
    // in al,71h ; out 80h,ax ; in eax,dx ; out dx,al
    expect(h.io.log).toEqual([
      { dir: 'in', port: 0x71, size: 1, value: 0xab },
      { dir: 'out', port: 0x80, size: 2, value: 0xffab },
      { dir: 'in', port: 0xcfc, size: 4, value: 0x80861237 },
      { dir: 'out', port: 0xcfc, size: 1, value: 0x37 },
    ]);
    expect(h.eax).toBe(0x80861237);
  });
});

describe('faults in the middle of a REP', () => {
  it('ES limit reached during rep stosb: #GP(0), ECX/EDI reflect completed iterations, EIP at the prefix', () => {
    const h = new Harness().flat32([0xf4]);
    h.setSeg(ES, 0, DST + 0x10);
    fill(h, DST, 0x40, () => 0);
    h.prepare([0x90, 0xf3, 0xaa], { [EDI]: DST, [ECX]: 0x20, [EAX]: 0x77 });
    const f = h.runToFault();
    expect(f.vector).toBe(GP);
    expect(f.err).toBe(0);
    expect(f.eip).toBe(CODE + 1);
    expect(h.ecx).toBe(0x20 - 0x11);
    expect(h.edi).toBe(DST + 0x11);
    expect(h.r8(DST + 0x10)).toBe(0x77);
    expect(h.r8(DST + 0x11)).toBe(0);
  });
  it('SS-relative source beyond the SS limit in rep movsd (SS override): #SS(0)', () => {
    const h = new Harness().flat32([0xf4]);
    h.setSeg(2, 0, 0x8ffff);
    h.cpu.r32[4] = 0x8fff0;
    h.prepare([0x36, 0xf3, 0xa5], { [ESI]: 0x8fff8, [EDI]: DST, [ECX]: 4 });
    h.cpu.r32[4] = 0x8fff0;
    const f = h.runToFault();
    expect(f.vector).toBe(SS_);
    expect(f.err).toBe(0);
    expect(f.eip).toBe(CODE);
    expect(h.ecx).toBe(2);
    expect(h.esi).toBe(0x90000);
  });
  it('page fault mid rep movsd, crossing into a not-present page', () => {
    const h = new Harness(2).flat32([0xf4]);
    // Identity-map the first 4 MiB with 4 KiB pages, then unmap the page at 0x50000.
    const PD = 0x100000, PT = 0x101000;
    h.w32(PD, PT | 3);
    for (let p = 0; p < 1024; p++) h.w32(PT + 4 * p, (p << 12) | 3);
    h.w32(PT + 4 * 0x50, 0);
    h.cpu.cr3 = PD;
    h.cpu.cr0 |= CR0_PG;
    h.cpu.pagingChanged();
    fill(h, SRC, 64, (k) => k + 1);
    const start = 0x50000 - 8 - 2; // the third dword straddles the boundary
    h.w32(0x50000 - 4, 0xcccccccc);
    h.prepare([0xf3, 0xa5], { [ESI]: SRC, [EDI]: start, [ECX]: 8 });
    const f = h.runToFault();
    expect(f.vector).toBe(PF_);
    expect(f.err).toBe(0x2); // not present, write, supervisor
    expect(h.cpu.cr2).toBe(0x50000);
    expect(f.eip).toBe(CODE);
    expect(h.ecx).toBe(6);
    expect(h.esi).toBe(SRC + 8);
    expect(h.edi).toBe(start + 8);
    // No partial write of the straddling dword.
    expect(h.r16(0x50000 - 2)).toBe(0xcccc);
    expect(h.r32(start)).toBe(0x04030201);
    // Map the page and resume: the instruction completes from where it stopped.
    h.w32(PT + 4 * 0x50, 0x50000 | 3);
    h.cpu.flushTlb(false);
    // Return from the handler by hand: pop the frame and continue at the faulting instruction.
    h.cpu.r32[4] = STACK_TOP;
    h.cpu.eip = CODE;
    h.cpu.halted = false;
    expect(h.run()).toBe(Exit.Halt);
    expect(h.faultVector()).toBe(-1);
    expect(h.ecx).toBe(0);
    for (let k = 0; k < 32; k++) expect(h.r8(start + k)).toBe(k + 1);
  });
});

describe('page-crossing data accesses', () => {
  function paged(h: Harness): number {
    const PD = 0x100000, PT = 0x101000;
    h.w32(PD, PT | 3);
    for (let p = 0; p < 1024; p++) h.w32(PT + 4 * p, (p << 12) | 3);
    h.w32(PT + 4 * 0x51, 0x51000 | 1); // present, read-only
    h.w32(PT + 4 * 0x53, 0); // not present
    h.cpu.cr3 = PD;
    h.cpu.cr0 |= CR0_PG | (1 << 16); // PG, WP
    h.cpu.pagingChanged();
    return PT;
  }
  it('a read-modify-write straddling into a read-only page: #PF(P|W), CR2 = second page, nothing written, flags kept', () => {
    const h = new Harness(2).flat32([0xf4]);
    paged(h);
    h.w32(0x50ffc, 0x11111111);
    h.w32(0x51000, 0x22222222);
    h.prepare([0x01, 0x05, 0xfe, 0x0f, 0x05, 0x00], { [EAX]: 0x01010101 }, CF | ZF); // add [0x50ffe], eax
    const f = h.runToFault();
    expect(f.vector).toBe(PF_);
    expect(f.err).toBe(0x3);
    expect(h.cpu.cr2).toBe(0x51000);
    expect(f.eip).toBe(CODE);
    expect(f.eflags & (CF | ZF)).toBe(CF | ZF);
    expect(h.r32(0x50ffc)).toBe(0x11111111);
    expect(h.r32(0x51000)).toBe(0x22222222);
  });
  it('a dword read straddling into a not-present page: #PF with CR2 at the page start, register unchanged', () => {
    const h = new Harness(2).flat32([0xf4]);
    paged(h);
    h.prepare([0x8b, 0x05, 0xfd, 0x2f, 0x05, 0x00], { [EAX]: 0x5a5a }); // mov eax, [0x52ffd]
    const f = h.runToFault();
    expect(f.vector).toBe(PF_);
    expect(f.err).toBe(0);
    expect(h.cpu.cr2).toBe(0x53000);
    expect(h.eax).toBe(0x5a5a);
  });
});
