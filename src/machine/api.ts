// The library API for tests and scripts (README "Library API"): build a machine from
// files or a snapshot, drive its serial console, read its state, snapshot it.
// Everything here is a thin layer over Machine; the CLI uses the same calls.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CharBackend } from '../devices/chardev';
import { Machine, MachineError, type MachineConfig } from './machine';
import { parseSerialScript, SerialScriptRunner, type ScriptHost } from './serial-script';

export interface CreateMachineOptions {
  /** Kernel image (default: the embedded Linux guest in fixtures/linux, with its initramfs). */
  kernel?: string;
  /** Initrd file (default: the embedded guest's when `kernel` is not given). */
  initrd?: string;
  /** Extra kernel parameters. */
  params?: string;
  /** Guest RAM in MiB (default 128). */
  memMiB?: number;
  /** Deterministic run on the virtual clock (default true: this API is for tests). */
  deterministic?: boolean;
  ips?: number;
  seed?: number;
  rtcEpochSeconds?: number;
  /** Where guest output also goes (the transcript is kept either way). */
  serial?: CharBackend;
  /** Anything else MachineConfig takes (flat binaries, CPU options...). */
  extra?: Partial<MachineConfig>;
}

/** The embedded guest's files, searched next to the package and in the working directory. */
export function embeddedGuestFiles(): { kernel: string; initrd: string } | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const root of [join(here, '..'), join(here, '..', '..'), process.cwd()]) {
    const k = join(root, 'fixtures', 'linux', 'bzImage'), i = join(root, 'fixtures', 'linux', 'initramfs.cpio.gz');
    if (existsSync(k) && existsSync(i)) return { kernel: k, initrd: i };
  }
  return null;
}

function read(path: string, what: string): Uint8Array {
  if (!existsSync(path)) throw new MachineError(`${what} ${path}: no such file`);
  return new Uint8Array(readFileSync(path));
}

/** Builds a machine from files (a deterministic one unless told otherwise). */
export function createMachine(opts: CreateMachineOptions = {}): Machine {
  let kernel = opts.kernel, initrd = opts.initrd;
  if (!kernel) {
    const g = embeddedGuestFiles();
    if (!g) throw new MachineError('no kernel given and the embedded guest (fixtures/linux) is missing');
    kernel = g.kernel;
    initrd ??= g.initrd;
  }
  return new Machine({
    memMiB: opts.memMiB ?? 128,
    kernel: { path: kernel, image: read(kernel, 'kernel') },
    initrds: initrd ? [{ path: initrd, args: '', data: read(initrd, 'initrd') }] : [],
    params: opts.params ?? '',
    deterministic: opts.deterministic ?? true,
    ips: opts.ips, seed: opts.seed, rtcEpochSeconds: opts.rtcEpochSeconds, serial: opts.serial,
    ...opts.extra,
  });
}

/** Builds a machine from a snapshot file (path or bytes); SnapshotError says why it cannot. */
export function restoreMachine(snapshot: string | Uint8Array, overrides: Parameters<typeof Machine.fromSnapshot>[1] = {}): Machine {
  const bytes = typeof snapshot === 'string' ? read(snapshot, 'snapshot') : snapshot;
  return Machine.fromSnapshot(bytes, overrides);
}

/** The script host view of a machine. */
export function scriptHost(m: Machine): ScriptHost {
  return { serial: m.serial, now: () => m.now(), at: (ns, cb) => m.at(ns, cb), atBoundary: (cb) => m.atBoundary(cb) };
}

/**
 * Starts a serial script (see serial-script.ts) on a machine; it advances as the
 * machine runs. `onDone(null)` when it finished, `onDone(message)` when an expect timed out.
 */
export function startSerialScript(m: Machine, source: string, onDone: (error: string | null) => void, name = 'script'): SerialScriptRunner {
  const r = new SerialScriptRunner(scriptHost(m), parseSerialScript(source, name), onDone, name);
  r.start();
  return r;
}

/** Runs a serial script to its end (rejects on a failed expect, the guest stopping, or the host timeout). */
export async function runSerialScript(m: Machine, source: string, opts: { name?: string; hostTimeoutMs?: number } = {}): Promise<void> {
  let error: string | null = null, done = false;
  startSerialScript(m, source, (e) => { error = e; done = true; m.requestBreak(); }, opts.name);
  await m.runUntilCondition(() => done, opts.hostTimeoutMs ?? 600_000, `the end of ${opts.name ?? 'the script'}`);
  if (error) throw new MachineError(error);
}
