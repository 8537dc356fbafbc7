// Host fd readiness for a *synchronous* event loop in Node.
//
// Node offers no poll(2) to JavaScript, and the emulator's run loop is synchronous
// (the CPU runs inside one JS call), so the libuv loop of the main thread never gets
// to run while a guest runs. The choice made here:
//
//  * A worker thread owns the libuv side: for each watched pipe, socket or tty fd it
//    opens a non-blocking stream (net.Socket / tty.ReadStream over the fd) and copies
//    every chunk that arrives into a SharedArrayBuffer ring, then bumps a shared
//    sequence word and Atomics.notify()s it.
//  * The main thread blocks in Atomics.wait() on that word with the poll timeout.
//    This really sleeps in the kernel (futex), wakes as soon as data arrives on any
//    watched fd, and costs no CPU while idle.
//  * Regular files are always readable (poll(2) says the same); they are read with
//    fs.readSync on the main thread and never involve the worker.
//
// The consequence for handlers: data is already read when a read handler runs, so
// the handler is given the bytes (`read(data)`) instead of reading the fd itself.
// The worker is unref'd and streams are closed in close(), so it never keeps the
// process alive and never sits in a blocking read(2) that could stall exit.

import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';

const RING_BYTES = 1 << 16;
/** Int32 slots in the control block. */
const SEQ = 0; // bumped on every event
const HEAD = 1; // write position (worker)
const TAIL = 2; // read position (main)
const PAUSED = 3; // 1 while the worker paused streams because the ring is full

// Ring records: [fd:int32][len:int32][bytes...], len = -1 means EOF, -2 error.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const tty = require('node:tty');
const ctl = new Int32Array(workerData.ctl);
const ring = new Uint8Array(workerData.ring);
const dv = new DataView(workerData.ring);
const N = ring.length;
const streams = new Map();
const owned = new Set();
// Positions are free-running int32 counters; N is a power of two, so '& (N - 1)'
// indexes correctly across int32 wrap-around.
function free() { return N - ((Atomics.load(ctl, 1) - Atomics.load(ctl, 2)) | 0); }
function putByte(pos, b) { ring[pos & (N - 1)] = b; }
function putI32(pos, v) { for (let i = 0; i < 4; i++) putByte(pos + i, (v >>> (8 * i)) & 0xff); }
function push(fd, len, bytes) {
  let head = Atomics.load(ctl, 1);
  putI32(head, fd); putI32(head + 4, len);
  if (bytes) for (let i = 0; i < bytes.length; i++) putByte(head + 8 + i, bytes[i]);
  Atomics.store(ctl, 1, (head + 8 + (bytes ? bytes.length : 0)) | 0);
  Atomics.add(ctl, 0, 1);
  Atomics.notify(ctl, 0);
}
// Chunks that did not fit in the ring, in arrival order, while streams are paused.
const backlog = [];
function pushChunk(fd, chunk) {
  let off = 0;
  while (off < chunk.length) {
    const room = free() - 8;
    if (room <= 0) return chunk.subarray(off);
    const n = Math.min(room, chunk.length - off, 4096);
    push(fd, n, chunk.subarray(off, off + n));
    off += n;
  }
  return null;
}
function flushBacklog() {
  while (backlog.length) {
    const b = backlog[0];
    if (b.eof !== undefined) {
      if (free() < 8) return false;
      push(b.fd, b.eof, null);
      backlog.shift();
      continue;
    }
    const rest = pushChunk(b.fd, b.chunk);
    if (rest) { b.chunk = rest; return false; }
    backlog.shift();
  }
  return true;
}
function pauseAll() {
  Atomics.store(ctl, 3, 1);
  for (const t of streams.values()) t.pause();
}
function onData(fd, chunk) {
  if (backlog.length) { backlog.push({ fd, chunk }); return; }
  const rest = pushChunk(fd, chunk);
  if (rest) { backlog.push({ fd, chunk: rest }); pauseAll(); }
}
function onEnd(fd, code) {
  if (backlog.length || free() < 8) { backlog.push({ fd, eof: code }); pauseAll(); return; }
  push(fd, code, null);
}
parentPort.on('message', (m) => {
  if (m.op === 'watch') {
    let s;
    if (m.kind === 'tty') { s = new tty.ReadStream(m.ownFd); }
    else { s = new net.Socket({ fd: m.ownFd, readable: true, writable: false }); }
    streams.set(m.fd, s);
    if (m.owned) owned.add(m.fd);
    s.on('data', (c) => onData(m.fd, c));
    s.on('end', () => onEnd(m.fd, -1));
    s.on('error', () => onEnd(m.fd, -2));
  } else if (m.op === 'unwatch') {
    const s = streams.get(m.fd);
    if (s) {
      streams.delete(m.fd);
      s.removeAllListeners('data');
      s.pause();
      // Our own duplicate is closed; the caller's fd (when it could not be duplicated) is left open.
      if (m.owned) s.destroy(); else if (s._handle && s._handle.readStop) s._handle.readStop();
    }
  } else if (m.op === 'resume') {
    if (!flushBacklog()) return; // still full: the main thread asks again after draining
    Atomics.store(ctl, 3, 0);
    for (const s of streams.values()) s.resume();
  } else if (m.op === 'close') {
    for (const [fd, s] of streams) { s.pause(); if (owned.has(fd)) s.destroy(); else if (s._handle && s._handle.readStop) s._handle.readStop(); }
    streams.clear();
    parentPort.close();
  }
});
parentPort.postMessage('ready');
`;

export interface FdEvent {
  fd: number;
  /** Bytes read, or null at end of file / on error. */
  data: Uint8Array | null;
  error?: boolean;
}

/** Watches non-file fds (pipes, sockets, ttys) from a worker; see the file comment. */
export class FdWatcher {
  private readonly ctl = new Int32Array(new SharedArrayBuffer(16));
  private readonly ringBuf = new SharedArrayBuffer(RING_BYTES);
  private readonly ring = new Uint8Array(this.ringBuf);
  private worker: Worker | null = null;

  private ensureWorker(): Worker {
    if (!this.worker) {
      this.worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { ctl: this.ctl.buffer, ring: this.ringBuf },
      });
      this.worker.unref();
    }
    return this.worker;
  }

  private readonly ownFds = new Map<number, number>();

  /**
   * Start watching `fd`. The worker reads from its own duplicate, opened through
   * /proc/self/fd (a stream closes its fd when destroyed, and the caller's fd must
   * stay the caller's); where that is impossible (sockets, no procfs) the fd itself
   * is used and only stopped, never closed.
   */
  watch(fd: number, kind: 'tty' | 'stream'): void {
    let ownFd = fd;
    let owned = false;
    try {
      ownFd = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      owned = true;
    } catch {
      // fall back to sharing the caller's fd
    }
    if (owned) this.ownFds.set(fd, ownFd);
    this.ensureWorker().postMessage({ op: 'watch', fd, ownFd, owned, kind });
  }

  unwatch(fd: number): void {
    const owned = this.ownFds.delete(fd);
    this.worker?.postMessage({ op: 'unwatch', fd, owned });
  }

  /** True when events are waiting to be drained. */
  hasEvents(): boolean {
    return Atomics.load(this.ctl, HEAD) !== Atomics.load(this.ctl, TAIL);
  }

  /**
   * Block the calling thread until an event arrives or `timeoutMs` passes
   * (Infinity = no timeout). Returns immediately when events are already queued.
   */
  wait(timeoutMs: number): void {
    const seq = Atomics.load(this.ctl, SEQ);
    if (this.hasEvents()) return;
    if (timeoutMs <= 0) return;
    Atomics.wait(this.ctl, SEQ, seq, timeoutMs === Infinity ? undefined : timeoutMs);
  }

  /** Remove and return every queued event. */
  drain(): FdEvent[] {
    const out: FdEvent[] = [];
    const mask = this.ring.length - 1;
    let tail = Atomics.load(this.ctl, TAIL);
    const head = Atomics.load(this.ctl, HEAD);
    const getI32 = (pos: number): number => {
      let v = 0;
      for (let i = 0; i < 4; i++) v |= this.ring[(pos + i) & mask]! << (8 * i);
      return v;
    };
    while (tail !== head) {
      const fd = getI32(tail);
      const len = getI32(tail + 4);
      tail = (tail + 8) | 0;
      if (len < 0) {
        out.push({ fd, data: null, error: len === -2 });
        continue;
      }
      const data = new Uint8Array(len);
      for (let i = 0; i < len; i++) data[i] = this.ring[(tail + i) & mask]!;
      tail = (tail + len) | 0;
      out.push({ fd, data });
    }
    Atomics.store(this.ctl, TAIL, tail);
    if (Atomics.load(this.ctl, PAUSED) === 1) this.worker?.postMessage({ op: 'resume' });
    return out;
  }

  close(): void {
    if (this.worker) {
      this.worker.postMessage({ op: 'close' });
      void this.worker.terminate();
      this.worker = null;
    }
  }
}
