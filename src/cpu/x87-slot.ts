import type { FpuHost, FpuInsn } from './fpu-iface';

/** What the core needs from an x87 unit (implemented by X87 in src/cpu/fpu). */
export interface X87Unit {
  reset(): void;
  exec(host: FpuHost, i: FpuInsn): void;
  /** FWAIT: signals a pending unmasked exception (#MF, or FERR# when CR0.NE=0). */
  fwait(host: FpuHost): void;
  /** FXSAVE/FXRSTOR supported (the core reports CPUID.FXSR only then). */
  readonly hasFxsr?: boolean;
  fxsave?(host: FpuHost, seg: number, off: number): void;
  fxrstor?(host: FpuHost, seg: number, off: number): void;
}
