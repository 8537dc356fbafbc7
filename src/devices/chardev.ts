// Character backends a serial port (or the 0xE9 console) talks to: an in-memory
// buffer (tests, scripted input), a host fd (stdio, a file), or nothing.

import * as fs from 'node:fs';
import type { AioContext } from '../aio/aio-context';
import type { FdHandler } from '../aio/aio-context';

export interface CharBackend {
  /** Guest output. */
  write(data: Uint8Array): void;
  /** Where host input goes; the frontend installs this. */
  setReceiver(rx: ((data: Uint8Array) => void) | null): void;
}

/** Output kept in memory; input injected with `input()`. What the tests use. */
export class BufferCharBackend implements CharBackend {
  // Output kept as one growing byte array (doubling), and its Latin-1 text decoded
  // incrementally: tests poll `text` in loops, and a guest can print megabytes
  // (a spread of millions of char codes into String.fromCharCode overflows the stack).
  private buf = new Uint8Array(4096);
  private len = 0;
  private decoded = '';
  private rx: ((data: Uint8Array) => void) | null = null;
  private pendingInput: Uint8Array[] = [];

  write(data: Uint8Array): void {
    if (this.len + data.length > this.buf.length) {
      let cap = this.buf.length;
      while (cap < this.len + data.length) cap *= 2;
      const grown = new Uint8Array(cap);
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  setReceiver(rx: ((data: Uint8Array) => void) | null): void {
    this.rx = rx;
    if (rx) for (const d of this.pendingInput.splice(0)) rx(d);
  }

  /** Queue host input (a string is sent as Latin-1 bytes). */
  input(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff) : data;
    if (this.rx) this.rx(bytes);
    else this.pendingInput.push(bytes);
  }

  get bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  get text(): string {
    if (this.decoded.length < this.len) {
      this.decoded += Buffer.from(this.buf.buffer, this.buf.byteOffset + this.decoded.length, this.len - this.decoded.length).toString('latin1');
    }
    return this.decoded;
  }

  clear(): void {
    this.len = 0;
    this.decoded = '';
  }
}

/**
 * Output to a host fd (stdout, a file) with fs.writeSync; optional input from a
 * host fd through the AioContext's fd handlers (stdin, a file, a pipe).
 */
export class FdCharBackend implements CharBackend {
  private rx: ((data: Uint8Array) => void) | null = null;
  private handler: FdHandler | null = null;

  constructor(
    private readonly outFd: number | null,
    private readonly inFd: number | null = null,
    private readonly aio: AioContext | null = null,
  ) {}

  write(data: Uint8Array): void {
    if (this.outFd === null) return;
    let off = 0;
    while (off < data.length) off += fs.writeSync(this.outFd, data, off, data.length - off);
  }

  setReceiver(rx: ((data: Uint8Array) => void) | null): void {
    this.rx = rx;
    if (rx && this.inFd !== null && this.aio && !this.handler) {
      this.handler = this.aio.addFdHandler(this.inFd, { read: (d) => this.rx?.(d) });
    }
  }

  close(): void {
    if (this.handler) this.aio?.removeFdHandler(this.handler);
    this.handler = null;
  }
}

/**
 * Deterministic input: bytes delivered at fixed times on the AioContext clock (a
 * virtual clock in deterministic runs), so the same script gives the same run bit
 * for bit. Output is kept in memory like BufferCharBackend.
 */
export class ScriptedCharBackend extends BufferCharBackend {
  private readonly script: { atNs: number; data: Uint8Array }[];

  constructor(
    aio: AioContext,
    script: { atNs: number; data: string | Uint8Array }[],
  ) {
    super();
    this.script = script
      .map((e) => ({
        atNs: e.atNs,
        data: typeof e.data === 'string' ? Uint8Array.from(e.data, (c) => c.charCodeAt(0) & 0xff) : e.data,
      }))
      .sort((a, b) => a.atNs - b.atNs);
    const timer = aio.newTimer(() => {
      const now = aio.clock.now();
      while (this.script.length && this.script[0]!.atNs <= now) this.input(this.script.shift()!.data);
      if (this.script.length) timer.mod(this.script[0]!.atNs);
    }, 'chardev-script');
    if (this.script.length) timer.mod(this.script[0]!.atNs);
  }
}

/** Discards output, never produces input. */
export class NullCharBackend implements CharBackend {
  write(): void {}
  setReceiver(): void {}
}
