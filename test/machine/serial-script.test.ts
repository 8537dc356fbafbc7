// Serial scripts (parser and runner), the serial console's watches, and the seeded PRNG.
import { describe, expect, it } from 'vitest';
import { parseDuration, parseSerialScript, SerialScriptError, SerialScriptRunner, type ScriptHost } from '../../src/machine/serial-script';
import { SerialConsole } from '../../src/machine/serial-console';
import { BufferCharBackend } from '../../src/devices/chardev';
import { SeededRandom } from '../../src/machine/seeded-random';
import { EscapeFilter } from '../../src/cli/stdio-console';

describe('serial script parser', () => {
  it('parses commands, escapes, durations and the default timeout', () => {
    const steps = parseSerialScript([
      '# login',
      'timeout 30s',
      'expect "login:"',
      'send "root\\n"',
      'expect "# " 5s',
      'send "a\\tb\\r\\x41\\e\\\\\\"\\0"',
      'wait 1.5ms',
      'at 2s',
    ].join('\n'));
    expect(steps).toEqual([
      { op: 'expect', text: 'login:', timeoutNs: 30e9, line: 3 },
      { op: 'send', text: 'root\n', line: 4 },
      { op: 'expect', text: '# ', timeoutNs: 5e9, line: 5 },
      { op: 'send', text: 'a\tb\rA\x1b\\"\0', line: 6 },
      { op: 'wait', ns: 1.5e6, line: 7 },
      { op: 'at', ns: 2e9, line: 8 },
    ]);
    expect(parseDuration('250us')).toBe(250_000);
    expect(parseDuration('2')).toBeNull();
  });

  it('names the file and line of every error', () => {
    const bad: [string, RegExp][] = [
      ['send "unterminated', /s:1: unterminated string/],
      ['expect ""', /s:1: expect needs a non-empty string/],
      ['\nsend "\\q"', /s:2: unknown escape \\q/],
      ['send "\\x4"', /\\x needs two hex digits/],
      ['wait soon', /"soon" is not a duration/],
      ['send "a" extra', /unexpected "extra"/],
      ['jump 3', /unknown command "jump"/],
    ];
    for (const [src, re] of bad) {
      expect(() => parseSerialScript(src, 's')).toThrow(SerialScriptError);
      expect(() => parseSerialScript(src, 's')).toThrow(re);
    }
  });
});

/** A fake machine: a clock moved by hand, timers, and a console whose output the test writes. */
function fakeHost() {
  const out = new BufferCharBackend();
  const serial = new SerialConsole(out);
  const sent: string[] = [];
  serial.setReceiver((d) => sent.push(String.fromCharCode(...d)));
  let now = 0;
  let timers: { at: number; cb: () => void }[] = [];
  const boundary: (() => void)[] = [];
  const host: ScriptHost = {
    serial,
    now: () => now,
    at: (ns, cb) => { const t = { at: ns, cb }; timers.push(t); return () => { timers = timers.filter((x) => x !== t); }; },
    atBoundary: (cb) => { boundary.push(cb); },
  };
  const settle = (): void => { while (boundary.length) boundary.shift()!(); };
  const advance = (ns: number): void => {
    now += ns;
    for (const t of timers.filter((x) => x.at <= now)) { timers = timers.filter((x) => x !== t); t.cb(); }
    settle();
  };
  const guest = (s: string): void => { serial.write(Uint8Array.from(s, (c) => c.charCodeAt(0))); settle(); };
  return { host, sent, guest, advance, settle, serial };
}

describe('serial script runner', () => {
  it('sends after each expect matched, waits in machine time, and finishes', () => {
    const f = fakeHost();
    let result: string | null | undefined;
    const r = new SerialScriptRunner(f.host, parseSerialScript('expect "login:"\nsend "root\\n"\nwait 2s\nsend "ls\\n"\nexpect "$ "\n'), (e) => { result = e; });
    r.start(); f.settle();
    expect(f.sent).toEqual([]);
    f.guest('Welcome\nlog');
    expect(f.sent).toEqual([]);
    f.guest('in: ');
    expect(f.sent).toEqual(['root\n']);
    f.advance(1.9e9);
    expect(f.sent).toEqual(['root\n']);
    f.advance(0.1e9);
    expect(f.sent).toEqual(['root\n', 'ls\n']);
    expect(r.done).toBe(false);
    f.guest('a b c\n$ ');
    expect(result).toBeNull();
    expect(r.done).toBe(true);
  });

  it('expects match only output after the previous match', () => {
    const f = fakeHost();
    let result: string | null | undefined;
    new SerialScriptRunner(f.host, parseSerialScript('expect "# "\nsend "x\\n"\nexpect "# "\nsend "y\\n"'), (e) => { result = e; }).start();
    f.settle();
    f.guest('boot\n# ');
    expect(f.sent).toEqual(['x\n']);
    f.guest('x\n');
    expect(f.sent).toEqual(['x\n']); // the first prompt does not satisfy the second expect
    f.guest('# ');
    expect(f.sent).toEqual(['x\n', 'y\n']);
    expect(result).toBeNull();
  });

  it('fails an expect after its timeout, naming the line', () => {
    const f = fakeHost();
    let result: string | null | undefined;
    new SerialScriptRunner(f.host, parseSerialScript('send "a"\nexpect "never" 100ms\nsend "b"', 'x.txt'), (e) => { result = e; }, 'x.txt').start();
    f.settle();
    f.advance(99e6);
    expect(result).toBeUndefined();
    f.advance(1e6);
    expect(result).toBe('x.txt:2: expect "never" timed out after 0.1 s of machine time');
    expect(f.sent).toEqual(['a']);
  });
});

describe('serial console', () => {
  it('keeps the transcript, forwards output, finds patterns from a cursor', () => {
    const out = new BufferCharBackend();
    const c = new SerialConsole(out);
    c.write(Uint8Array.from([0x61, 0x62, 0x0a]));
    expect(out.text).toBe('ab\n');
    expect(c.text).toBe('ab\n');
    expect(c.bytesWritten).toBe(3);
    expect(c.find(/b\n$/)).toEqual({ text: 'b\n', start: 1, end: 3 });
    expect(c.find('a', 1)).toBeNull();
  });

  it('a watch fires once, on the write that completes a match split across writes', () => {
    const c = new SerialConsole(new BufferCharBackend());
    const hits: number[] = [];
    c.watch('login:', 0, (m) => hits.push(m.end));
    for (const ch of 'xx log') c.write(Uint8Array.of(ch.charCodeAt(0)));
    expect(hits).toEqual([]);
    c.write(Uint8Array.from('in: login:', (x) => x.charCodeAt(0)));
    expect(hits).toEqual([9]);
  });

  it('host input goes through the deterministic filter when one is set', () => {
    const host = new BufferCharBackend();
    const c = new SerialConsole(host);
    const got: string[] = [];
    c.setReceiver((d) => got.push(String.fromCharCode(...d)));
    const queued: (() => void)[] = [];
    c.hostInputFilter = (d, deliver) => queued.push(() => deliver(d));
    host.input('k');
    expect(got).toEqual([]);
    queued[0]!();
    expect(got).toEqual(['k']);
  });

  it('waitFor without a machine says so', async () => {
    await expect(new SerialConsole(new BufferCharBackend()).waitFor('x')).rejects.toThrow(/not attached to a machine/);
  });
});

describe('seeded PRNG', () => {
  it('is a pure function of the seed and restores from its state', () => {
    const a = new SeededRandom(42), b = new SeededRandom(42), c = new SeededRandom(43);
    const xs = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(xs);
    const st = a.saveState();
    const next = a.nextU32();
    const d = new SeededRandom(0);
    d.loadState(st);
    expect(d.nextU32()).toBe(next);
    const buf = new Uint8Array(7);
    new SeededRandom(1).fill(buf);
    expect(buf.some((x) => x !== 0)).toBe(true);
    expect(() => d.loadState([1, 2])).toThrow(/malformed/);
  });
});

describe('console escapes', () => {
  it('Ctrl-A s asks for a snapshot and is not passed to the guest', () => {
    let snaps = 0;
    const f = new EscapeFilter(() => {}, () => {}, () => { snaps++; });
    expect(Array.from(f.filter(Uint8Array.of(0x61, 0x01, 0x73, 0x62)))).toEqual([0x61, 0x62]);
    expect(snaps).toBe(1);
  });
});
