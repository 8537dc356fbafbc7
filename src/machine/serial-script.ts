// Serial scripts: scripted input and expectations on the guest console, in the
// manner of expect(1), timed on the machine clock (virtual time in deterministic
// runs, so a script replays bit for bit).
//
//   # a comment
//   timeout 60s          default timeout of the following expects (machine time)
//   expect "login:"      wait until the console shows this text (after the previous match)
//   expect "# " 10s      ... with its own timeout
//   send "root\n"        type these bytes
//   wait 2s              let 2 s of machine time pass
//   at 12.5s             wait until the machine clock reads 12.5 s
//
// Strings take the escapes \n \r \t \e (ESC) \0 \\ \" and \xHH. Durations are a
// number with a unit: ns, us, ms, s, m.

export type ScriptStep =
  | { op: 'expect'; text: string; timeoutNs: number | null; line: number }
  | { op: 'send'; text: string; line: number }
  | { op: 'wait'; ns: number; line: number }
  | { op: 'at'; ns: number; line: number };

export class SerialScriptError extends Error {}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9 };

export function parseDuration(s: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m)$/.exec(s.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

/** Parses a quoted string with escapes starting at `s[0] === '"'`; returns the text and the rest. */
function parseQuoted(s: string, where: string): { text: string; rest: string } {
  if (s[0] !== '"') throw new SerialScriptError(`${where}: expected a "quoted string"`);
  let out = '';
  for (let k = 1; k < s.length; k++) {
    const c = s[k]!;
    if (c === '"') return { text: out, rest: s.slice(k + 1).trim() };
    if (c !== '\\') { out += c; continue; }
    const e = s[++k];
    switch (e) {
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'e': out += '\x1b'; break;
      case '0': out += '\0'; break;
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      case 'x': {
        const h = s.slice(k + 1, k + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new SerialScriptError(`${where}: \\x needs two hex digits`);
        out += String.fromCharCode(parseInt(h, 16));
        k += 2;
        break;
      }
      default: throw new SerialScriptError(`${where}: unknown escape \\${e ?? ''}`);
    }
  }
  throw new SerialScriptError(`${where}: unterminated string`);
}

export function parseSerialScript(src: string, name = 'script'): ScriptStep[] {
  const steps: ScriptStep[] = [];
  let defaultTimeout: number | null = null;
  src.split(/\r?\n/).forEach((raw, idx) => {
    const line = idx + 1;
    const where = `${name}:${line}`;
    const s = raw.trim();
    if (!s || s.startsWith('#')) return;
    const m = /^(\w+)\s*(.*)$/.exec(s)!;
    const cmd = m[1]!, arg = m[2]!;
    const dur = (a: string): number => {
      const d = parseDuration(a);
      if (d === null) throw new SerialScriptError(`${where}: "${a}" is not a duration (e.g. 500ms, 2s)`);
      return d;
    };
    switch (cmd) {
      case 'expect': {
        const q = parseQuoted(arg, where);
        if (!q.text) throw new SerialScriptError(`${where}: expect needs a non-empty string`);
        steps.push({ op: 'expect', text: q.text, timeoutNs: q.rest ? dur(q.rest) : defaultTimeout, line });
        break;
      }
      case 'send': {
        const q = parseQuoted(arg, where);
        if (q.rest) throw new SerialScriptError(`${where}: unexpected "${q.rest}" after the string`);
        steps.push({ op: 'send', text: q.text, line });
        break;
      }
      case 'wait': steps.push({ op: 'wait', ns: dur(arg), line }); break;
      case 'at': steps.push({ op: 'at', ns: dur(arg), line }); break;
      case 'timeout': defaultTimeout = dur(arg); break;
      default: throw new SerialScriptError(`${where}: unknown command "${cmd}" (expect, send, wait, at, timeout)`);
    }
  });
  return steps;
}

/** What a script needs from the machine. */
export interface ScriptHost {
  readonly serial: {
    cursor: number;
    send(data: string): void;
    watch(pattern: string, from: number, onMatch: (m: { end: number }) => void): () => void;
  };
  /** Machine-clock time in ns. */
  now(): number;
  /** Calls `cb` at machine time `ns` (at an instruction boundary). */
  at(ns: number, cb: () => void): () => void;
  /** Calls `cb` at the next instruction boundary. */
  atBoundary(cb: () => void): void;
}

/**
 * Runs a script against a machine, event-driven: it advances from the machine's own
 * callbacks (serial output, timers), so it works under `Machine.run()` as well as
 * from the test API. `onDone(null)` on success, `onDone(message)` on a failed expect.
 */
export class SerialScriptRunner {
  private pc = 0;
  private finished = false;
  private cancelTimer: (() => void) | null = null;
  private cancelWatch: (() => void) | null = null;

  constructor(
    private readonly host: ScriptHost,
    private readonly steps: ScriptStep[],
    private readonly onDone: (error: string | null) => void,
    private readonly name = 'script',
  ) {}

  get done(): boolean { return this.finished; }

  start(): void { this.host.atBoundary(() => this.next()); }

  private finish(error: string | null): void {
    if (this.finished) return;
    this.finished = true;
    this.cancelTimer?.();
    this.cancelWatch?.();
    this.onDone(error);
  }

  private next(): void {
    while (!this.finished) {
      const st = this.steps[this.pc++];
      if (!st) { this.finish(null); return; }
      switch (st.op) {
        case 'send':
          this.host.serial.send(st.text);
          continue;
        case 'wait':
        case 'at': {
          const due = st.op === 'wait' ? this.host.now() + st.ns : st.ns;
          if (due <= this.host.now()) continue;
          this.cancelTimer = this.host.at(due, () => { this.cancelTimer = null; this.next(); });
          return;
        }
        case 'expect': {
          let matched = false;
          this.cancelWatch = this.host.serial.watch(st.text, this.host.serial.cursor, (m) => {
            matched = true;
            this.host.serial.cursor = m.end;
            this.cancelTimer?.();
            this.cancelTimer = null;
            this.host.atBoundary(() => this.next());
          });
          if (!matched && st.timeoutNs !== null) {
            const t = st.timeoutNs;
            this.cancelTimer = this.host.at(this.host.now() + t, () => {
              this.cancelWatch?.();
              this.finish(`${this.name}:${st.line}: expect ${JSON.stringify(st.text)} timed out after ${t / 1e9} s of machine time`);
            });
          }
          return;
        }
      }
    }
  }
}
