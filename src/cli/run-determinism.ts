// `ts86 run` options for deterministic runs, state hashes, snapshots and serial
// scripts: parsing, and wiring them to the Machine. Printing only; the mechanisms
// are the Machine's (src/machine).
import { readFileSync, writeFileSync } from 'node:fs';
import type { Machine } from '../machine/machine';
import { EXIT_SCRIPT_FAILED } from '../machine/machine';
import { startSerialScript } from '../machine/api';
import { SerialScriptError } from '../machine/serial-script';
import { chainHash } from '../machine/state-hash';
import { UserError } from './errors';

export interface DeterminismOpts {
  rtcBase?: string; seed?: string; traceHash?: string; stateHash?: boolean;
  snapshotOut?: string; snapshotOn?: string; restore?: string; serialScript?: string;
}

/** --rtc-base: Unix seconds or an ISO 8601 date/time (UTC unless it says otherwise). */
export function parseRtcBase(v: string): number {
  if (/^\d+$/.test(v.trim())) return Number(v);
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) || !/T/.test(v) ? v : `${v}Z`);
  if (!Number.isFinite(t) || t < 0) throw new UserError(`--rtc-base ${v}: not a time (Unix seconds, or ISO 8601 like 2024-01-31T12:00:00Z)`);
  return Math.floor(t / 1000);
}

export function parseSeed(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new UserError(`--seed ${v}: an integer from 0 to 4294967295`);
  return n;
}

/** --trace-hash N (RAM + CPU + devices) or N:cpu (CPU + devices + clock only: cheap). */
export function parseTraceHash(v: string): { every: number; ram: boolean } {
  const m = /^(\d+)(?::(cpu|full))?$/.exec(v.trim());
  const every = m ? Number(m[1]) : NaN;
  if (!m || !Number.isSafeInteger(every) || every < 1) throw new UserError(`--trace-hash ${v}: a positive instruction count, optionally with :cpu (e.g. 1000000 or 1000000:cpu)`);
  return { every, ram: m[2] !== 'cpu' };
}

export type SnapshotTrigger = { kind: 'marker'; text: string } | { kind: 'icount'; at: number };

export function parseSnapshotOn(v: string): SnapshotTrigger {
  if (v.startsWith('marker:') && v.length > 7) return { kind: 'marker', text: v.slice(7) };
  const m = /^icount:(\d+)$/.exec(v);
  if (m && Number.isSafeInteger(Number(m[1]))) return { kind: 'icount', at: Number(m[1]) };
  throw new UserError(`--snapshot-on ${v}: use marker:TEXT (serial output) or icount:N (instruction count)`);
}

/** Checks the option combinations before the machine exists. */
export function checkDeterminismOpts(o: DeterminismOpts): void {
  if (o.snapshotOn && !o.snapshotOut) throw new UserError('--snapshot-on needs --snapshot-out FILE');
  if (o.traceHash) parseTraceHash(o.traceHash);
  if (o.snapshotOn) parseSnapshotOn(o.snapshotOn);
}

export function readSerialScript(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`--serial-script ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

export interface DeterminismHooks {
  /** Ctrl-A s. */
  snapshotNow(): void;
  /** At the end of the run: the snapshot without a trigger, and the state hash. */
  atExit(): void;
}

/** Wires trace hashes, snapshot triggers and a serial script to a machine. */
export function installDeterminism(m: Machine, o: DeterminismOpts, log: (line: string) => void): DeterminismHooks {
  const writeSnapshot = (why: string): void => {
    if (!o.snapshotOut) { log(`${why}: no --snapshot-out FILE given, no snapshot written`); return; }
    const t0 = m.aio.hostClock.now();
    const bytes = m.snapshot();
    writeFileSync(o.snapshotOut, bytes);
    log(`snapshot (${why}) written to ${o.snapshotOut} at instruction ${m.cpu.icount}: ${(bytes.length / 1048576).toFixed(2)} MiB in ${((m.aio.hostClock.now() - t0) / 1e6).toFixed(0)} ms`);
  };
  if (o.traceHash) {
    const { every, ram } = parseTraceHash(o.traceHash);
    let chain = '';
    const tick = (): void => {
      const h = m.stateHash({ ram });
      chain = chainHash(chain, h);
      log(`trace-hash icount=${m.cpu.icount} state=${h} chain=${chain.slice(0, 16)}`);
      m.atInstructionCount(m.cpu.icount + every, tick);
    };
    m.atInstructionCount(Math.ceil((m.cpu.icount + 1) / every) * every, tick);
  }
  const trigger = o.snapshotOn ? parseSnapshotOn(o.snapshotOn) : null;
  if (trigger?.kind === 'icount') m.atInstructionCount(trigger.at, () => writeSnapshot(`icount:${trigger.at}`));
  if (trigger?.kind === 'marker') m.serial.watch(trigger.text, m.serial.cursor, () => m.atBoundary(() => writeSnapshot(`marker ${JSON.stringify(trigger.text)}`)));
  if (o.serialScript) {
    const src = readSerialScript(o.serialScript);
    try {
      startSerialScript(m, src, (err) => {
        if (err) m.stopWith({ reason: 'script-failed', exitStatus: EXIT_SCRIPT_FAILED, message: err });
        else log(`serial script ${o.serialScript} finished at instruction ${m.cpu.icount}`);
      }, o.serialScript);
    } catch (e) {
      if (e instanceof SerialScriptError) throw new UserError(`--serial-script ${e.message}`);
      throw e;
    }
  }
  return {
    snapshotNow: () => writeSnapshot('Ctrl-A s'),
    atExit: () => {
      if (o.snapshotOut && !trigger) writeSnapshot('exit');
      if (o.stateHash) log(`state-hash ${m.stateHash()} icount=${m.cpu.icount}`);
    },
  };
}
