// The snapshot file format. Pure encoding and validation: no machine here, so a
// file is checked completely (length, checksum, header, RAM) before any machine
// state is touched.
//
// Layout (little-endian):
//   0   8  magic "TS86SNAP"
//   8   4  format version (SNAPSHOT_FORMAT_VERSION)
//   12  4  reserved (0)
//   16  8  total file length in bytes (u64)
//   24  4  header length H
//   28  H  header: UTF-8 JSON (config, clock, CPU, each device's named versioned state, machine extras)
//   ..  4  RAM page count P (4 KiB pages)
//   ..  ceil(P/8)  bitmap: bit set = the page is stored (all-zero pages are skipped)
//   ..  4  compressed length C
//   ..  C  raw DEFLATE (node:zlib) of the stored pages, in page order
//   ..  32 SHA-256 of every byte before it
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { CpuState } from '../cpu/cpu-state';
import type { DeviceState } from '../devices/device';

export const SNAPSHOT_MAGIC = 'TS86SNAP';
export const SNAPSHOT_FORMAT_VERSION = 1;
const PAGE = 4096;
const FIXED = 28;
const SUM = 32;

/** A snapshot that cannot be used, with the exact reason (the CLI prints it as a user error). */
export class SnapshotError extends Error {}

export interface SnapshotConfig {
  memMiB: number;
  cpus: number;
  cmdline: string;
  deterministic: boolean;
  ips: number;
  seed: number;
  rtcEpochSeconds: number;
  serialTiming: 'fast' | 'real';
  quantum: number;
  /** Informational: what was booted. */
  kernelPath: string;
  describe: string;
}

export interface SnapshotHeader {
  format: 'ts86-snapshot';
  createdBy: string;
  config: SnapshotConfig;
  clock: { kind: 'virtual' | 'host'; nowNs: number; offsetNs: number };
  cpu: CpuState;
  devices: Record<string, DeviceState>;
  machine: {
    a20: boolean;
    panicSeen: boolean;
    consoleTail: string;
    rng: number[];
    /** Bytes the guest had written to COM1 when the snapshot was taken. */
    serialBytes: number;
  };
}

export interface Snapshot {
  header: SnapshotHeader;
  ram: Uint8Array;
}

function isZeroPage(w: Int32Array, first: number): boolean {
  for (let k = first, end = first + PAGE / 4; k < end; k++) if (w[k] !== 0) return false;
  return true;
}

export function encodeSnapshot(header: SnapshotHeader, ram: Uint8Array): Uint8Array {
  if (ram.length % PAGE !== 0 || ram.byteOffset % 4 !== 0) throw new Error('encodeSnapshot: RAM must be whole, aligned pages');
  const pages = ram.length / PAGE;
  const words = new Int32Array(ram.buffer, ram.byteOffset, ram.length / 4);
  const bitmap = new Uint8Array(Math.ceil(pages / 8));
  const stored: Uint8Array[] = [];
  for (let p = 0; p < pages; p++) {
    if (isZeroPage(words, p * (PAGE / 4))) continue;
    bitmap[p >> 3]! |= 1 << (p & 7);
    stored.push(ram.subarray(p * PAGE, (p + 1) * PAGE));
  }
  // Level 1: RAM is mostly code and page tables; speed matters more than the last 10%.
  const packed = deflateRawSync(Buffer.concat(stored), { level: 1 });
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const total = FIXED + json.length + 4 + bitmap.length + 4 + packed.length + SUM;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(Buffer.from(SNAPSHOT_MAGIC, 'latin1'), 0);
  dv.setUint32(8, SNAPSHOT_FORMAT_VERSION, true);
  dv.setUint32(12, 0, true);
  dv.setBigUint64(16, BigInt(total), true);
  dv.setUint32(24, json.length, true);
  let o = FIXED;
  out.set(json, o); o += json.length;
  dv.setUint32(o, pages, true); o += 4;
  out.set(bitmap, o); o += bitmap.length;
  dv.setUint32(o, packed.length, true); o += 4;
  out.set(packed, o); o += packed.length;
  out.set(createHash('sha256').update(out.subarray(0, o)).digest(), o);
  return out;
}

/**
 * Checks and decodes a snapshot file; every problem is a SnapshotError naming it.
 * The header's machine-specific parts (CPU, devices) are checked again, against
 * the actual machine, by the restore.
 */
export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  if (bytes.length < 8 || Buffer.from(bytes.subarray(0, 8)).toString('latin1') !== SNAPSHOT_MAGIC) {
    throw new SnapshotError('not a ts86 snapshot (the file does not start with "TS86SNAP")');
  }
  if (bytes.length < FIXED + SUM) throw new SnapshotError(`truncated: ${bytes.length} bytes is shorter than the fixed header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version > SNAPSHOT_FORMAT_VERSION) {
    throw new SnapshotError(`snapshot format version ${version} is newer than this ts86 reads (version ${SNAPSHOT_FORMAT_VERSION}); use a newer ts86`);
  }
  if (version < SNAPSHOT_FORMAT_VERSION) {
    // No older format has ever been released; when one is, its converter goes here.
    throw new SnapshotError(`snapshot format version ${version} is older than any this ts86 can convert (it reads version ${SNAPSHOT_FORMAT_VERSION})`);
  }
  const total = dv.getBigUint64(16, true);
  if (total !== BigInt(bytes.length)) {
    throw new SnapshotError(total > BigInt(bytes.length)
      ? `truncated: the file has ${bytes.length} bytes, its header says ${total}`
      : `the file has ${bytes.length} bytes, its header says ${total} (trailing data)`);
  }
  const body = bytes.subarray(0, bytes.length - SUM);
  const sum = createHash('sha256').update(body).digest();
  if (!Buffer.from(bytes.subarray(bytes.length - SUM)).equals(sum)) throw new SnapshotError('corrupt: the SHA-256 checksum does not match the contents');

  const hlen = dv.getUint32(24, true);
  let o = FIXED;
  if (o + hlen + 4 > body.length) throw new SnapshotError('corrupt: the header length points past the end of the file');
  let header: SnapshotHeader;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(o, o + hlen)).toString('utf8')) as SnapshotHeader;
  } catch (e) {
    throw new SnapshotError(`corrupt: the header is not valid JSON (${(e as Error).message})`);
  }
  o += hlen;
  checkHeader(header);
  const pages = dv.getUint32(o, true); o += 4;
  const ramBytes = header.config.memMiB * 1024 * 1024;
  if (pages * PAGE !== ramBytes) throw new SnapshotError(`corrupt: ${pages} RAM pages stored for ${header.config.memMiB} MiB of RAM`);
  const bmLen = Math.ceil(pages / 8);
  if (o + bmLen + 4 > body.length) throw new SnapshotError('corrupt: the RAM page bitmap runs past the end of the file');
  const bitmap = bytes.subarray(o, o + bmLen); o += bmLen;
  const clen = dv.getUint32(o, true); o += 4;
  if (o + clen !== body.length) throw new SnapshotError('corrupt: the compressed RAM does not end where the checksum starts');
  let stored = 0;
  for (let p = 0; p < pages; p++) if (bitmap[p >> 3]! & (1 << (p & 7))) stored++;
  let data: Buffer;
  try {
    data = inflateRawSync(bytes.subarray(o, o + clen), { maxOutputLength: stored * PAGE + 1 });
  } catch (e) {
    throw new SnapshotError(`corrupt: the compressed RAM does not decompress (${(e as Error).message})`);
  }
  if (data.length !== stored * PAGE) throw new SnapshotError(`corrupt: the RAM holds ${data.length} bytes, the bitmap says ${stored * PAGE}`);
  const ram = new Uint8Array(ramBytes);
  let src = 0;
  for (let p = 0; p < pages; p++) {
    if (!(bitmap[p >> 3]! & (1 << (p & 7)))) continue;
    ram.set(data.subarray(src, src + PAGE), p * PAGE);
    src += PAGE;
  }
  return { header, ram };
}

function checkHeader(h: SnapshotHeader): void {
  const bad = (what: string): never => { throw new SnapshotError(`corrupt: ${what}`); };
  if (typeof h !== 'object' || h === null || h.format !== 'ts86-snapshot') bad('the header is not a ts86 snapshot header');
  const c = h.config;
  if (typeof c !== 'object' || c === null) bad('no machine configuration');
  if (!Number.isInteger(c.memMiB) || c.memMiB < 64 || c.memMiB > 3072) bad(`memory size ${String(c.memMiB)} MiB`);
  if (c.cpus !== 1) bad(`${String(c.cpus)} vCPUs (this ts86 runs one)`);
  if (typeof c.cmdline !== 'string' || typeof c.deterministic !== 'boolean' || !(c.ips > 0) || !Number.isInteger(c.seed)) bad('the machine configuration');
  if (!Number.isFinite(c.rtcEpochSeconds) || (c.serialTiming !== 'fast' && c.serialTiming !== 'real') || !(c.quantum >= 1)) bad('the machine configuration');
  const k = h.clock;
  if (typeof k !== 'object' || k === null || (k.kind !== 'virtual' && k.kind !== 'host') || !Number.isFinite(k.nowNs) || !Number.isFinite(k.offsetNs)) bad('the clock state');
  if (k.kind === 'virtual' && !c.deterministic) bad('a virtual clock in a non-deterministic configuration');
  if (typeof h.devices !== 'object' || h.devices === null) bad('no device states');
  for (const [name, s] of Object.entries(h.devices)) {
    if (typeof s !== 'object' || s === null || typeof s.device !== 'string' || !Number.isInteger(s.version)) bad(`the state of device ${name}`);
  }
  const m = h.machine;
  if (typeof m !== 'object' || m === null || typeof m.a20 !== 'boolean' || typeof m.panicSeen !== 'boolean' || typeof m.consoleTail !== 'string' || !Array.isArray(m.rng) || !Number.isInteger(m.serialBytes)) bad('the machine state');
}
