// The native KVM shim (native/kvmshim.c), loaded lazily: only `--accel kvm|auto` and the
// KVM tests call loadShim(), so a missing or unbuildable .node never affects the
// interpreter. The bundle is ESM, so the .node is loaded through createRequire.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What native/kvmshim.c exports (see the comment at its top). */
export interface KvmShim {
  open(path: string, flags?: number): number;
  close(fd: number): void;
  /** Throws an Error with `errno`/`code` on failure; EINTR is retried. */
  ioctl(fd: number, request: number, arg?: number | bigint | ArrayBuffer | ArrayBufferView): number;
  /** KVM_RUN: 0 or -errno (never throws); a kick after `timeoutNs` (0 = none) gives -EINTR. */
  run(vcpuFd: number, runArea: ArrayBuffer, timeoutNs: number): number;
  mmap(len: number, prot: number, flags: number, fd: number, offset?: number): ArrayBuffer;
  addressOf(view: ArrayBuffer | ArrayBufferView): bigint;
  eventfd(init?: number, flags?: number): number;
  eventfdRead(fd: number): bigint;
  eventfdWrite(fd: number, n?: number): void;
  poll(fd: number, events: number, cb: (status: number, events: number) => void): object;
  pollStop(handle: object): void;
  readonly constants: Readonly<Record<string, number>>;
}

export interface ErrnoError extends Error { errno?: number; code?: string }

/** Where the built shim may be, relative to this module (src/accel/kvm or dist/). */
function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const rel = join('native', 'build', 'Release', 'ts86_kvm.node');
  const out: string[] = [];
  if (process.env.TS86_KVM_SHIM) out.push(process.env.TS86_KVM_SHIM);
  for (const up of ['..', join('..', '..'), join('..', '..', '..')]) out.push(join(here, up, rel));
  out.push(join(process.cwd(), rel));
  return out;
}

let cached: KvmShim | string | undefined;

/** The shim, or a one-line reason why it cannot be loaded. Cached per process (the .node is process-wide anyway). */
export function loadShim(): KvmShim | string {
  if (cached !== undefined) return cached;
  if (process.platform !== 'linux') return (cached = 'KVM needs Linux');
  const path = candidates().find((p) => existsSync(p));
  if (!path) return (cached = 'the KVM shim is not built (npm install builds it; it needs a C compiler and node-gyp)');
  try {
    const req = createRequire(import.meta.url);
    cached = req(path) as KvmShim;
  } catch (e) {
    cached = `the KVM shim at ${path} does not load: ${(e as Error).message.split('\n')[0]}`;
  }
  return cached;
}
