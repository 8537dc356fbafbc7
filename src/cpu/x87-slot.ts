import type { FpuInsn } from './fpu-iface';
import type { Cpu } from './cpu';

/** What the core needs from an x87 unit (implemented in src/cpu/fpu). */
export interface X87Unit {
  reset(): void;
  exec(cpu: Cpu, i: FpuInsn): void;
  /** FWAIT: signals a pending unmasked exception. */
  fwait(cpu: Cpu): void;
  /** FXSAVE/FXRSTOR supported. */
  readonly hasFxsr?: boolean;
}
