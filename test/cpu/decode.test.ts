// Decoder and instruction-fetch behaviour: opcodes without ModRM whose operand names look like
// ModRM forms (PUSH/POP FS/GS), multi-byte NOPs, self-modifying code with the decode cache,
// and instruction fetches that fault part way through an instruction.
import { describe, expect, it } from 'vitest';
import { Harness, CODE, DATA, STACK_TOP, le32, SEL_DATA32 } from '../helpers/cpu-harness';
import { EAX, EBX, FS, GS, PF_, CR0_PG, GP, CS, AR_P, AR_S, AR_DB } from '../../src/cpu/consts';

describe('opcode forms', () => {
  const h = new Harness().flat32([0xf4]);
  it('push/pop fs and gs are one-byte-after-0F opcodes (no ModRM)', () => {
    h.cpu.setSegCache(GS, 0x20, 0, 0xffff, AR_P | AR_S | 0x03);
    // push gs ; pop fs ; inc eax
    h.exec([0x0f, 0xa8, 0x0f, 0xa1, 0x40]);
    expect(h.eax).toBe(1);
    expect(h.cpu.segSel[FS]).toBe(0x20);
    expect(h.esp).toBe(STACK_TOP);
    // push fs ; pop gs ; inc eax
    h.exec([0x0f, 0xa0, 0x0f, 0xa9, 0x40]);
    expect(h.eax).toBe(1);
    expect(h.cpu.segSel[GS]).toBe(0x20);
    h.setSeg(FS, 0, 0xffffffff);
    h.setSeg(GS, 0, 0xffffffff);
    expect(h.cpu.segSel[GS]).toBe(SEL_DATA32);
  });
  it('multi-byte NOPs (0F 1F /0) decode with their ModRM/SIB/displacement', () => {
    h.exec([0x0f, 0x1f, 0x44, 0x00, 0x00, 0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40]);
    expect(h.eax).toBe(1);
    expect(h.cpu.eip).toBe(CODE + 16);
  });
  // 0F 19-0F 1E /r are reserved hint-NOP encodings that P6-family processors execute as NOPs with a
  // ModRM operand (ENDBR32 = F3 0F 1E FB lives there because it is a NOP on older parts).
  it('hint-NOP space 0F 19-0F 1E (incl. ENDBR32 F3 0F 1E FB) executes as NOP', () => {
    h.exec([0xf3, 0x0f, 0x1e, 0xfb, 0x0f, 0x19, 0x04, 0x24, 0x0f, 0x1c, 0x40, 0x00, 0x40]);
    expect(h.eax).toBe(1);
  });
  it('mov r32, sreg zero-extends; mov m16, sreg writes 16 bits', () => {
    h.w32(DATA, 0xffffffff);
    h.exec([0x8c, 0xd8, 0x8c, 0x1b], { [EAX]: 0xffffffff, [EBX]: DATA }); // mov eax, ds ; mov [ebx], ds
    expect(h.eax).toBe(SEL_DATA32);
    expect(h.r32(DATA)).toBe((0xffff0000 | SEL_DATA32) >>> 0);
  });
  it('66 prefix on byte operations has no effect; 66 on mov r, imm shortens the immediate', () => {
    h.exec([0x66, 0xb0, 0x12, 0x66, 0xbb, 0x34, 0x12, 0x40], { [EBX]: 0xffffffff });
    expect(h.eax).toBe(0x13);
    expect(h.ebx).toBe(0xffff1234);
  });
});

describe.each([true, false])('self-modifying code (decode cache %s)', (decodeCache) => {
  it('a store into an already-decoded instruction takes effect the next time it runs', () => {
    const h = new Harness(1, { decodeCache }).flat32([0xf4]);
    // l: mov eax, 1 ; (at CODE+5) add ecx, eax ; mov byte [CODE+1], 5 ; dec ebx ; jnz l ; hlt
    const code = [0xb8, ...le32(1), 0x01, 0xc1, 0xc6, 0x05, ...le32(CODE + 1), 0x05, 0x4b, 0x75, 0xef];
    h.exec(code, { [EBX]: 3 });
    // First pass adds 1, later passes add 5.
    expect(h.ecx).toBe(1 + 5 + 5);
  });
  it('a store into the very next instruction is seen (P6-class SMC detection: no jump needed)', () => {
    const h = new Harness(1, { decodeCache }).flat32([0xf4]);
    // mov byte [CODE+8], 0x42 ; mov eax, 0 (the low immediate byte, at CODE+8, is rewritten before it executes)
    const code = [0xc6, 0x05, ...le32(CODE + 8), 0x42, 0xb8, ...le32(0)];
    h.exec(code);
    expect(h.eax).toBe(0x42);
  });
  it('rep stosb over code that already ran', () => {
    const h = new Harness(1, { decodeCache }).flat32([0xf4]);
    const sub = CODE + 0x100;
    h.load(sub, [0xb8, ...le32(7), 0xc3]); // mov eax, 7 ; ret
    // call sub ; mov esi, eax ; mov edi, sub+1 ; mov ecx, 1 ; mov al, 9 ; rep stosb ; call sub (now mov eax, 9)
    const code = [0xe8, ...le32(sub - (CODE + 5)), 0x89, 0xc6, 0xbf, ...le32(sub + 1), 0xb9, ...le32(1), 0xb0, 0x09, 0xf3, 0xaa, 0xe8, ...le32(sub - (CODE + 26))];
    h.exec(code);
    expect(h.esi).toBe(7);
    expect(h.eax).toBe(9);
  });
});

describe('instruction fetch faults', () => {
  function paged(h: Harness, unmapped: number): number {
    const PD = 0x100000, PT = 0x101000;
    h.w32(PD, PT | 3);
    for (let p = 0; p < 1024; p++) h.w32(PT + 4 * p, (p << 12) | 3);
    h.w32(PT + 4 * (unmapped >>> 12), 0);
    h.cpu.cr3 = PD;
    h.cpu.cr0 |= CR0_PG;
    h.cpu.pagingChanged();
    return PT;
  }
  it('an instruction straddling into a not-present page: #PF on the fetch, CR2 = the second page, EIP = the instruction', () => {
    const h = new Harness(2).flat32([0xf4]);
    paged(h, 0x30000);
    const at = 0x30000 - 3;
    h.load(at, [0xb8, 0x01, 0x02]); // mov eax, imm32 whose last two bytes are in the unmapped page
    h.prepare([]);
    h.cpu.eip = at;
    h.cpu.r32[EAX] = 0x5555;
    const f = h.runToFault();
    expect(f.vector).toBe(PF_);
    expect(f.err).toBe(0); // not present, read, supervisor (the I/D bit needs NX enabled)
    expect(h.cpu.cr2).toBe(0x30000);
    expect(f.eip).toBe(at);
    expect(h.eax).toBe(0x5555);
  });
  it('running off the end of the CS limit is #GP(0)', () => {
    const h = new Harness().flat32([0xf4]);
    h.cpu.setSegCache(CS, 0x08, 0, CODE + 2, AR_P | AR_S | 0x0b | AR_DB);
    h.prepare([0x90, 0x90, 0xb8, 0, 0, 0, 0]);
    const f = h.runToFault();
    expect(f.vector).toBe(GP);
    expect(f.eip).toBe(CODE + 2);
  });
});
