// GDB Remote Serial Protocol framing: `$data#cs` packets, `+`/`-` acknowledgements and
// the out-of-band interrupt byte 0x03 (gdb manual, "Overview" and "Interrupts" of
// appendix E, "GDB Remote Serial Protocol"). Pure functions and a byte-stream parser,
// so the framing is testable without a socket.

/** One unit of input from gdb. */
export type RspInput =
  | { kind: 'ack' }
  | { kind: 'nack' }
  | { kind: 'interrupt' }
  /** `data` is the packet body exactly as sent (binary escapes not undone), as latin1. */
  | { kind: 'packet'; data: string; checksumOk: boolean };

/** The modulo-256 sum of the packet body's bytes. */
export function rspChecksum(data: string): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) s = (s + data.charCodeAt(i)) & 0xff;
  return s;
}

/** Escapes the characters that may not appear raw in a packet body: `$`, `#`, `}` and `*`. */
export function rspEscape(data: string): string {
  return data.replace(/[$#}*]/g, (c) => `}${String.fromCharCode(c.charCodeAt(0) ^ 0x20)}`);
}

/** Undoes the binary escape (`}` followed by the character XOR 0x20), as in `X` packets. */
export function rspUnescape(data: string): string {
  let out = '';
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c === '}' && i + 1 < data.length) out += String.fromCharCode(data.charCodeAt(++i) ^ 0x20);
    else out += c;
  }
  return out;
}

/** A framed packet ready for the wire: `$body#xx`, with the body escaped. */
export function rspFrame(body: string): string {
  const esc = rspEscape(body);
  return `$${esc}#${rspChecksum(esc).toString(16).padStart(2, '0')}`;
}

/**
 * Splits the byte stream from gdb into acks, interrupts and packets. Bytes between
 * packets other than `+`, `-` and 0x03 are noise (gdb never sends them) and dropped.
 */
export class RspReader {
  private buf = '';

  /** Feeds received bytes; returns the complete inputs they finish, in order. */
  feed(chunk: Uint8Array | string): RspInput[] {
    this.buf += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1');
    const out: RspInput[] = [];
    for (;;) {
      if (this.buf.length === 0) break;
      const c = this.buf[0];
      if (c === '$') {
        const hash = this.buf.indexOf('#', 1);
        if (hash < 0 || this.buf.length < hash + 3) break; // incomplete
        const data = this.buf.slice(1, hash);
        const sum = Number.parseInt(this.buf.slice(hash + 1, hash + 3), 16);
        out.push({ kind: 'packet', data, checksumOk: sum === rspChecksum(data) });
        this.buf = this.buf.slice(hash + 3);
        continue;
      }
      this.buf = this.buf.slice(1);
      if (c === '+') out.push({ kind: 'ack' });
      else if (c === '-') out.push({ kind: 'nack' });
      else if (c === '\x03') out.push({ kind: 'interrupt' });
    }
    return out;
  }
}

/** Hex of a byte string. */
export function toHex(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] & 0xff).toString(16).padStart(2, '0');
  return s;
}

/** Bytes of a hex string; null when it is not an even-length run of hex digits. */
export function fromHex(hex: string): Uint8Array | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A 32-bit value as gdb's target-order (little-endian) hex. */
export function le32Hex(v: number): string {
  const x = v >>> 0;
  return toHex([x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24]);
}

/** A little-endian 32-bit value from 8 hex digits; null when malformed. */
export function parseLe32Hex(hex: string): number | null {
  const b = fromHex(hex);
  if (!b || b.length !== 4) return null;
  return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
}

/** A big-endian hex number as gdb writes addresses and lengths; null when malformed. */
export function parseHexNumber(s: string): number | null {
  if (!/^[0-9a-fA-F]{1,16}$/.test(s)) return null;
  const v = Number.parseInt(s, 16);
  return Number.isSafeInteger(v) ? v : null;
}
