// The x87 FPU: public surface for the integer core and the debugger.
//
//   const fpu = new X87();            // one per vCPU; reset() at RESET, finit() = FNINIT
//   fpu.exec(host, insn);             // every D8..DF instruction (checks CR0.EM/TS itself)
//   fwait(fpu, host);                 // opcode 9B (WAIT/FWAIT)
//   fxsave(fpu, host, seg, off);      // x87 part of FXSAVE (alignment #GP is the core's job)
//   fxrstor(fpu, host, seg, off);
//   fpuMnemonic(op, modrm, '[eax]');  // disassembly text, objdump -M intel spelling

import type { FpuHost } from '../fpu-iface.js';
import { X87 } from './x87.js';

export { X87, waitNeedsNM, type X87Options } from './x87.js';
export { fpuMnemonic, type FpuDisasmOptions } from './disasm.js';
export type { F80 } from './softfloat.js';

/** WAIT/FWAIT: #NM when CR0.MP=1 and CR0.TS=1, then the pending-exception check (#MF or FERR#). */
export function fwait(fpu: X87, host: FpuHost): void { fpu.fwait(host); }
/** FXSAVE, x87 part of the 512-byte image: bytes 0..159 (MXCSR/MXCSR_MASK written as 0; the XMM area from byte 160 is left alone). */
export function fxsave(fpu: X87, host: FpuHost, seg: number, off: number): void { fpu.fxsave(host, seg, off); }
/** FXRSTOR, x87 part. */
export function fxrstor(fpu: X87, host: FpuHost, seg: number, off: number): void { fpu.fxrstor(host, seg, off); }
