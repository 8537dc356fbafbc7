import { describe, expect, it } from 'vitest';
import { AioContext } from '../../src/aio/aio-context';
import { ManualClock, VirtualClock } from '../../src/aio/clock';

describe('AioContext timers and bottom halves', () => {
  it('runs due timers in deadline order, ties in arming order', () => {
    const clock = new ManualClock();
    const aio = new AioContext({ clock });
    const log: string[] = [];
    const a = aio.newTimer(() => log.push('a'));
    const b = aio.newTimer(() => log.push('b'));
    const c = aio.newTimer(() => log.push('c'));
    const d = aio.newTimer(() => log.push('d'));
    c.mod(300);
    a.mod(100);
    b.mod(200);
    d.mod(200);
    expect(aio.nextDeadline()).toBe(100);
    clock.set(250);
    expect(aio.poll(false)).toBe(true);
    expect(log).toEqual(['a', 'b', 'd']);
    expect(aio.nextDeadline()).toBe(300);
    clock.set(1000);
    aio.poll(false);
    expect(log).toEqual(['a', 'b', 'd', 'c']);
    expect(aio.poll(false)).toBe(false);
  });

  it('cancels and re-arms timers, also from inside a callback', () => {
    const clock = new ManualClock();
    const aio = new AioContext({ clock });
    const log: string[] = [];
    const late = aio.newTimer(() => log.push('late'));
    const killer = aio.newTimer(() => {
      log.push('killer');
      late.del();
    });
    const cancelled = aio.newTimer(() => log.push('cancelled'));
    killer.mod(10);
    late.mod(20);
    cancelled.mod(5);
    cancelled.del();
    expect(cancelled.pending).toBe(false);
    clock.set(30);
    aio.poll(false);
    expect(log).toEqual(['killer']);
    // A periodic timer re-arming itself runs once per poll even when behind.
    let n = 0;
    const periodic = aio.newTimer(() => {
      n++;
      periodic.mod(periodic.clock.now() - 1);
    });
    periodic.mod(0);
    aio.poll(false);
    expect(n).toBe(1);
    aio.poll(false);
    expect(n).toBe(2);
    periodic.del();
  });

  it('runs bottom halves scheduled from timers and from other bottom halves', () => {
    const clock = new ManualClock();
    const aio = new AioContext({ clock });
    const log: string[] = [];
    const bh2 = aio.newBottomHalf(() => log.push('bh2'));
    const bh1 = aio.newBottomHalf(() => {
      log.push('bh1');
      bh2.schedule();
    });
    const t = aio.newTimer(() => {
      log.push('timer');
      bh1.schedule();
      bh1.schedule(); // idempotent
    });
    t.mod(5);
    clock.set(5);
    expect(aio.poll(false)).toBe(true);
    expect(log).toEqual(['timer', 'bh1', 'bh2']);
    const bh3 = aio.newBottomHalf(() => log.push('bh3'));
    bh3.schedule();
    bh3.cancel();
    expect(aio.poll(false)).toBe(false);
    bh3.schedule();
    bh3.delete();
    expect(aio.poll(false)).toBe(false);
    expect(log).toEqual(['timer', 'bh1', 'bh2']);
  });

  it('reports when a newly armed timer moves the earliest deadline earlier', () => {
    const clock = new ManualClock();
    const aio = new AioContext({ clock });
    let kicks = 0;
    aio.onEarlierDeadline = () => kicks++;
    const a = aio.newTimer(() => {});
    const b = aio.newTimer(() => {});
    a.mod(1000);
    expect(kicks).toBe(1);
    b.mod(2000); // later: no kick
    expect(kicks).toBe(1);
    b.mod(500);
    expect(kicks).toBe(2);
  });

  it('a blocking poll on the host clock sleeps until the timer', () => {
    const aio = new AioContext();
    let fired = false;
    aio.newTimer(() => (fired = true)).modIn(30e6);
    const t0 = performance.now();
    while (!fired) aio.poll(true);
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(25);
    expect(ms).toBeLessThan(1000);
    expect(aio.stats.blockedWaits).toBeGreaterThan(0);
  });

  it('virtual clock: a blocking poll with every vCPU halted jumps to the next deadline', () => {
    let icount = 0;
    const vclock = new VirtualClock(() => icount, 100_000_000);
    const aio = new AioContext({ clock: vclock });
    icount = 1000; // 10 µs of virtual time
    expect(vclock.now()).toBe(10_000);
    let fired = 0;
    const t = aio.newTimer(() => fired++);
    t.mod(10_000_000_000); // 10 virtual seconds
    const t0 = performance.now();
    expect(aio.poll(true)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(200);
    expect(fired).toBe(1);
    expect(vclock.now()).toBe(10_000_000_000);
    icount += 100;
    expect(vclock.now()).toBe(10_000_001_000);
    expect(vclock.instructionsUntil(10_000_002_000)).toBe(100);
    expect(aio.stats.virtualSkips).toBe(1);
  });
});
