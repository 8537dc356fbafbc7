import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AioContext } from '../../src/aio/aio-context';
import { VirtualClock } from '../../src/aio/clock';

const contexts: AioContext[] = [];
afterEach(() => {
  for (const c of contexts.splice(0)) c.close();
});

function makeFifo(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts86-aio-'));
  const p = path.join(dir, 'fifo');
  execFileSync('mkfifo', [p]);
  return p;
}

describe('AioContext fd handlers', () => {
  it('a blocking poll sleeps until another process writes to a pipe', () => {
    const fifo = makeFifo();
    // O_RDWR keeps a writer on the FIFO (no EOF before the child writes) and never blocks in open.
    const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    const aio = new AioContext();
    contexts.push(aio);
    let got = '';
    aio.addFdHandler(fd, { read: (d) => (got += Buffer.from(d).toString()) });
    let timedOut = false;
    aio.newTimer(() => (timedOut = true)).modIn(10e9);
    const child = spawn('sh', ['-c', `sleep 0.3; printf hello > '${fifo}'`], { stdio: 'ignore' });
    const t0 = performance.now();
    const cpuBefore = process.cpuUsage();
    while (got.length < 5 && !timedOut) aio.poll(true);
    const elapsed = performance.now() - t0;
    const cpu = process.cpuUsage(cpuBefore);
    expect(got).toBe('hello');
    expect(timedOut).toBe(false);
    expect(elapsed).toBeGreaterThan(150);
    expect(elapsed).toBeLessThan(5000);
    // Really blocked: the main thread used far less CPU than the wall time.
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(elapsed * 0.5 + 50);
    expect(aio.stats.blockedWaits).toBeGreaterThan(0);
    child.kill();
    fs.closeSync(fd);
  });

  it('moves more data than the shared ring holds (backpressure) without loss', () => {
    const fifo = makeFifo();
    const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    const aio = new AioContext();
    contexts.push(aio);
    const total = 300_000;
    let got = 0;
    let sum = 0;
    aio.addFdHandler(fd, {
      read: (d) => {
        got += d.length;
        for (const b of d) sum += b;
      },
    });
    let timedOut = false;
    aio.newTimer(() => (timedOut = true)).modIn(20e9);
    const child = spawn('sh', ['-c', `head -c ${total} /dev/zero | tr '\\0' 'a' > '${fifo}'`], { stdio: 'ignore' });
    while (got < total && !timedOut) aio.poll(true);
    expect(timedOut).toBe(false);
    expect(got).toBe(total);
    expect(sum).toBe(total * 0x61);
    child.kill();
    fs.closeSync(fd);
  });

  it('on a virtual clock with a host fd, a blocking poll still wakes on input', () => {
    const fifo = makeFifo();
    const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    const vclock = new VirtualClock(() => 0, 1e8);
    const aio = new AioContext({ clock: vclock });
    contexts.push(aio);
    let got = '';
    aio.addFdHandler(fd, { read: (d) => (got += Buffer.from(d).toString()) });
    const child = spawn('sh', ['-c', `sleep 0.1; printf x > '${fifo}'`], { stdio: 'ignore' });
    const t0 = performance.now();
    while (!got && performance.now() - t0 < 5000) aio.poll(true);
    expect(got).toBe('x');
    child.kill();
    fs.closeSync(fd);
  });

  it('reads regular files as always ready and reports end of file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts86-aio-'));
    const p = path.join(dir, 'in.txt');
    fs.writeFileSync(p, 'abc');
    const fd = fs.openSync(p, 'r');
    const aio = new AioContext();
    contexts.push(aio);
    let got = '';
    let eof = false;
    aio.addFdHandler(fd, { read: (d) => (got += Buffer.from(d).toString()), eof: () => (eof = true) });
    expect(aio.poll(false)).toBe(true);
    aio.poll(false);
    expect(got).toBe('abc');
    expect(eof).toBe(true);
    expect(aio.poll(false)).toBe(false);
    fs.closeSync(fd);
  });

  it('handlers can remove themselves and others during dispatch', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts86-aio-'));
    const fds = [0, 1, 2].map((i) => {
      const p = path.join(dir, `f${i}`);
      fs.writeFileSync(p, 'x'.repeat(10));
      return fs.openSync(p, 'r');
    });
    const aio = new AioContext();
    contexts.push(aio);
    const calls: number[] = [];
    const hs = fds.map((fd, i) =>
      aio.addFdHandler(fd, {
        read: () => {
          calls.push(i);
          if (i === 0) {
            aio.removeFdHandler(hs[0]!);
            aio.removeFdHandler(hs[1]!); // not yet dispatched in this round: must not run
            aio.addFdHandler(fds[1]!, { write: () => calls.push(99) });
          }
        },
      }),
    );
    aio.poll(false);
    expect(calls).toEqual([0, 2]);
    aio.poll(false);
    expect(calls.slice(2)).toEqual([99]);
    for (const fd of fds) fs.closeSync(fd);
  });
});

describe('adaptive busy polling', () => {
  it('is off by default', () => {
    const aio = new AioContext();
    aio.adaptPollWindow(1000);
    expect(aio.pollNs).toBe(0);
  });

  it('grows while waits are short and shrinks when a wait exceeds the maximum', () => {
    const aio = new AioContext({ pollMaxNs: 64_000, pollStartNs: 4000, pollGrow: 2, pollShrink: 2 });
    aio.adaptPollWindow(10_000);
    expect(aio.pollNs).toBe(4000);
    aio.adaptPollWindow(10_000);
    expect(aio.pollNs).toBe(8000);
    aio.adaptPollWindow(10_000);
    expect(aio.pollNs).toBe(16_000);
    aio.adaptPollWindow(10_000); // caught inside the window: unchanged
    expect(aio.pollNs).toBe(16_000);
    for (let i = 0; i < 10; i++) aio.adaptPollWindow(60_000);
    expect(aio.pollNs).toBe(64_000); // capped at pollMaxNs
    aio.adaptPollWindow(1_000_000);
    expect(aio.pollNs).toBe(32_000);
    for (let i = 0; i < 10; i++) aio.adaptPollWindow(1_000_000);
    expect(aio.pollNs).toBe(0);
  });

  it('with real host timers: short waits end up caught by busy polling, long ones shrink the window', () => {
    const aio = new AioContext({ pollMaxNs: 20_000_000, pollStartNs: 50_000 });
    const t = aio.newTimer(() => {});
    for (let i = 0; i < 12; i++) {
      t.modIn(200_000); // 0.2 ms
      while (t.pending) aio.poll(true);
    }
    expect(aio.pollNs).toBeGreaterThan(0);
    expect(aio.stats.busyPollHits).toBeGreaterThan(0);
    const grown = aio.pollNs;
    for (let i = 0; i < 3; i++) {
      t.modIn(40_000_000); // 40 ms > pollMaxNs
      while (t.pending) aio.poll(true);
    }
    expect(aio.pollNs).toBeLessThan(grown);
  });
});

describe('poll callbacks', () => {
  it('run on every poll and during the busy-poll window', () => {
    const aio = new AioContext({ pollMaxNs: 1e9, pollStartNs: 200e6 });
    aio.pollNs = 200e6; // a wide window: a poll callback will succeed inside it
    let calls = 0;
    let ready = false;
    const fd = fs.openSync('/dev/null', 'r');
    aio.addFdHandler(fd, {
      poll: () => {
        calls++;
        if (calls === 1000) ready = true;
        return ready;
      },
    });
    aio.newTimer(() => {}).modIn(5e9);
    expect(aio.poll(false)).toBe(false);
    expect(calls).toBe(1);
    const t0 = performance.now();
    expect(aio.poll(true)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(aio.stats.busyPollHits).toBe(1);
    fs.closeSync(fd);
  });
});
