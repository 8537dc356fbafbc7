// What a WebAssembly region could run at: the LZMA range-decoder bit loop of
// bench/guests/lzma.S (the shape of the Debian bzImage's XZ decompressor, a third of its
// boot) written by hand as the wasm a region compiler would emit, against ts86's JIT on
// the same guest. Not a backend: a measurement to decide whether to build one.
//
// The hand translation keeps what such a compiler must keep: guest registers in wasm
// locals; guest RAM at linear-memory offset 0 (paging off, flat segments); before every
// access the frame-kind byte (PAGE_RAM, in the same memory after RAM) and, for 16/32-bit
// accesses, that the access stays inside its page — a failed check would leave the region
// (here it traps: the loop never takes that path); the guest instruction count kept per
// block, the budget checked at the loop edge. Flags are dead inside the loop (each Jcc
// follows its CMP in the same block), so none are stored. The result is checked against
// ts86 itself: both run the same instruction count and must agree on every register and
// on the probability table the loop updates.
// Run: node esbuild.config.mjs && node dist/bench/wasm-region.js
import { Cpu } from '../src/cpu/cpu';
import { PhysMemory, type WasmArena } from '../src/mmu/physmem';
import { LZMA, initGuestData } from './cpu-loop';
import { Code, ModuleBuilder, sleb, uleb, wasmApi } from '../src/cpu/wasm-encode';

const RAM = 1 << 20;

// Locals: 0 the budget (parameter), then the guest registers, the instruction count, a temporary.
const L = { eax: 1, ecx: 2, edx: 3, ebx: 4, esp: 5, ebp: 6, esi: 7, edi: 8, count: 9, t: 10 } as const;
type Reg = keyof typeof L;
const get = (r: Reg): number[] => [0x20, L[r]];
const set = (r: Reg): number[] => [0x21, L[r]];
const k = (v: number): number[] => [0x41, ...sleb(v | 0)];
const ADD = 0x6a, SUB = 0x6b, MUL = 0x6c, AND = 0x71, OR = 0x72, SHL = 0x74, SHRU = 0x76, EQZ = 0x45, GTU = 0x4b, GEU = 0x4f, LEU = 0x4d;
const LD8 = [0x2d, 0, 0], LD16 = [0x2f, 1, 0], LD32 = [0x28, 2, 0], ST16 = [0x3b, 1, 0], ST32 = [0x36, 2, 0];
const IF = [0x04, 0x40], BLOCK = [0x02, 0x40], LOOP = [0x03, 0x40], END = [0x0b], UNREACHABLE = [0x00];
/**
 * Plain RAM at the address in `r` (its frame's kind, at `kind` + frame, is PAGE_RAM) and, for
 * size > 1, the access inside one page; else leave (trap).
 */
const check = (kind: number, r: Reg, size: number): number[] => [
  ...get(r), ...k(12), SHRU, 0x2d, 0, ...uleb(kind), EQZ,
  ...(size > 1 ? [...get(r), ...k(4095), AND, ...k(4096 - size), LEU, AND] : []),
  EQZ, ...IF, ...UNREACHABLE, ...END,
];
const addT = (n: number): number[] => [...get('t'), ...k(n), ADD, ...set('t')];
/** The guest's `outer:` block (MOV EDI/EBP/ESI/EBX/ECX): 5 instructions. */
const outer = [...k(0x23000), ...set('edi'), ...k(-1), ...set('ebp'), ...k(0x12345678), ...set('esi'), ...k(1), ...set('ebx'), ...k(256), ...set('ecx')];

/** The function's body for guest memory laid out as `arena` (PhysMemory.inWasmMemory): exit state at its scratch area. */
function regionBody(arena: WasmArena): number[] {
  const chk = (r: Reg, size: number): number[] => check(arena.kindOffset, r, size);
  return [
    ...k(0x80000), ...set('esp'), ...outer, ...k(6), ...set('count'), // MOV ESP + outer
    ...LOOP, // bit:
    ...k(0), ...set('t'),
    ...get('esp'), ...k(4), SUB, ...set('esp'), ...chk('esp', 4), ...get('esp'), ...get('ecx'), ...ST32, // PUSH ECX
    ...get('ebx'), ...k(255), AND, ...set('ebx'), // AND EBX, 0xFF
    ...get('ebx'), ...k(1), SHL, ...k(0x22000), ADD, ...set('eax'), // LEA EAX, [0x22000 + EBX*2]
    ...BLOCK, ...get('ebp'), ...k(0xffffff), GTU, 0x0d, 0, // CMP EBP, 0xFFFFFF; JA 1f
    ...get('ebp'), ...k(8), SHL, ...set('ebp'), ...get('esi'), ...k(8), SHL, ...set('esi'), // SHL EBP, 8; SHL ESI, 8
    ...chk('edi', 1), ...get('edi'), ...LD8, ...set('edx'), // MOVZX EDX, BYTE [EDI]
    ...get('esi'), ...get('edx'), OR, ...set('esi'), // OR ESI, EDX
    ...get('edi'), ...k(1), ADD, ...k(0x23fff), AND, ...set('edi'), // INC EDI; AND EDI, 0x23FFF
    ...addT(6), ...END,
    ...get('ebp'), ...k(11), SHRU, ...set('edx'), // 1: MOV EDX, EBP; SHR EDX, 11
    ...chk('eax', 2), ...get('eax'), ...LD16, ...set('ecx'), // MOVZX ECX, WORD [EAX]
    ...get('edx'), ...get('ecx'), MUL, ...set('edx'), // IMUL EDX, ECX
    ...BLOCK, ...BLOCK, ...get('esi'), ...get('edx'), GEU, 0x0d, 0, // CMP ESI, EDX; JAE 2f
    ...get('edx'), ...set('ebp'), ...k(0x800), ...get('ecx'), SUB, ...k(5), SHRU, ...set('edx'), // MOV EBP, EDX; MOV EDX, 0x800; SUB EDX, ECX; SHR EDX, 5
    ...chk('eax', 2), ...get('eax'), ...get('eax'), ...LD16, ...get('edx'), ADD, ...ST16, // ADD WORD [EAX], DX
    ...get('ebx'), ...get('ebx'), ADD, ...set('ebx'), ...addT(7), 0x0c, 1, ...END, // ADD EBX, EBX; JMP 3f
    ...get('ebp'), ...get('edx'), SUB, ...set('ebp'), ...get('esi'), ...get('edx'), SUB, ...set('esi'), // 2: SUB EBP, EDX; SUB ESI, EDX
    ...get('ecx'), ...k(5), SHRU, ...set('edx'), // MOV EDX, ECX; SHR EDX, 5
    ...chk('eax', 2), ...get('eax'), ...get('eax'), ...LD16, ...get('edx'), SUB, ...ST16, // SUB WORD [EAX], DX
    ...get('ebx'), ...get('ebx'), ADD, ...k(1), ADD, ...set('ebx'), ...addT(6), ...END, // LEA EBX, [EBX+EBX+1]
    ...chk('esp', 4), ...get('esp'), ...LD32, ...set('ecx'), ...get('esp'), ...k(4), ADD, ...set('esp'), // 3: POP ECX
    ...get('ecx'), ...k(1), SUB, ...set('ecx'), // DEC ECX; JNZ bit
    ...get('count'), ...k(14), ...get('t'), ADD, ADD, ...set('count'),
    ...get('ecx'), EQZ, ...IF, ...outer, ...get('count'), ...k(6), ADD, ...set('count'), ...END, // JMP outer + outer
  0x20, 0, ...get('count'), GTU, 0x0d, 0, // on while the budget allows
    ...END,
    ...[L.eax, L.ecx, L.edx, L.ebx, L.esp, L.ebp, L.esi, L.edi].flatMap((l, n) => [...k(arena.scratchOffset + n * 4), 0x20, l, ...ST32]),
    ...get('count'),
  ];
}

/**
 * The hand-written region over guest memory in a WebAssembly.Memory: run(budget) returns the
 * guest instructions done (registers EAX..EDI then at the arena's scratch area).
 */
export function wasmLoop(): { run: (budget: number) => number; mem: PhysMemory } {
  const mem = PhysMemory.inWasmMemory(RAM);
  if (mem === null || mem.wasm === null) throw new Error('no WebAssembly memory here');
  const m = new ModuleBuilder();
  m.importMemory('e', 'm', mem.wasm.memory.buffer.byteLength / 65536);
  m.export('run', m.func(1, 1, 10, new Code().op(...regionBody(mem.wasm))));
  const inst = new wasmApi!.Instance(new wasmApi!.Module(m.bytes()), { e: { m: mem.wasm.memory } }); // inWasmMemory had it
  return { run: inst.exports.run as (budget: number) => number, mem };
}

/** ts86 on the same guest, from the start, for `n` instructions (guest memory in a WebAssembly.Memory with `arena`): registers and the probability table. */
export function ts86(n: number, arena = false): { regs: number[]; probs: Uint8Array; seconds: number } {
  const mem = arena ? PhysMemory.inWasmMemory(RAM)! : new PhysMemory(RAM);
  const cpu = new Cpu(mem, { ioRead: () => 0xff, ioWrite: () => {} }, {});
  mem.ram.set(LZMA, 0x10000);
  initGuestData(mem.ram);
  cpu.setupFlat32(0x10000);
  const t0 = performance.now();
  while (cpu.icount < n) cpu.run(Math.min(1_000_000, n - cpu.icount));
  const seconds = (performance.now() - t0) / 1000;
  return { regs: Array.from(cpu.r32.subarray(0, 8), (v) => v >>> 0), probs: mem.ram.slice(0x22000, 0x22200), seconds };
}

/** The wasm run's registers (EAX..EDI) and probability table. */
export function wasmState(mem: PhysMemory): { regs: number[]; probs: Uint8Array } {
  return { regs: Array.from(new Uint32Array(mem.wasm!.memory.buffer, mem.wasm!.scratchOffset, 8)), probs: mem.ram.slice(0x22000, 0x22200) };
}

/** A fresh run of the hand-written region for `budget` instructions (at least; it stops at a loop edge): its count and state. */
export function wasmRun(budget: number): { done: number; regs: number[]; probs: Uint8Array } {
  const { run, mem } = wasmLoop();
  initGuestData(mem.ram);
  const done = run(budget);
  return { done, ...wasmState(mem) };
}

const isMain = import.meta.url === `file://${process.argv[1]}` && process.argv[1].includes('wasm-region');
if (isMain) {
  const n = Number(process.env.BENCH_INSNS ?? 300_000_000);
  const { run, mem } = wasmLoop();
  const ram = mem.ram;
  initGuestData(ram);
  // Correctness first: a short run, then ts86 to the same instruction count.
  const short = run(5_000_000);
  const ref = ts86(short);
  const out = wasmState(mem);
  const same = ref.regs.every((v, i) => v === out.regs[i]) && ref.probs.every((v, i) => v === out.probs[i]);
  console.log(`hand-written wasm region vs ts86 after ${short} instructions: ${same ? 'registers and table agree' : 'DIFFERENT'}`);
  if (!same) { console.log('ts86', ref.regs.map((v) => v.toString(16)), 'wasm', out.regs.map((v) => v.toString(16))); process.exitCode = 1; }
  for (let r = 0; r < 3; r++) {
    initGuestData(ram);
    const t0 = performance.now();
    const done = run(n);
    const w = (performance.now() - t0) / 1000;
    const j = ts86(done).seconds, t = ts86(done, true).seconds;
    console.log(`  ${(done / 1e6).toFixed(0)} M instructions: wasm ${w.toFixed(2)} s (${(done / w / 1e6).toFixed(0)} MIPS), ts86 JavaScript tier ${j.toFixed(2)} s (${(done / j / 1e6).toFixed(0)} MIPS), ts86 WebAssembly tier ${t.toFixed(2)} s (${(done / t / 1e6).toFixed(0)} MIPS)`);
  }
}
