import { describe, expect, it } from 'vitest';
import { parseProcStat, stealPercent } from '../../bench/hostload';

// proc(5): cpu user nice system idle iowait irq softirq steal guest guest_nice
const STAT = `cpu  6616664 223387 363711 5356448 6037 0 4209 281832 90 0
cpu0 3272898 118858 180624 2708744 1997 0 1548 141132 48 0
intr 1 2 3
`;

describe('bench host load (/proc/stat steal)', () => {
  it('reads the aggregate cpu line: the first eight fields make the total (guest time is inside user)', () => {
    const t = parseProcStat(STAT)!;
    expect(t.steal).toBe(281832);
    expect(t.total).toBe(6616664 + 223387 + 363711 + 5356448 + 6037 + 0 + 4209 + 281832);
  });
  it('has no reading without a cpu line or with garbage in it', () => {
    expect(parseProcStat('cpu0 1 2 3 4\n')).toBeNull();
    expect(parseProcStat('cpu  1 x 3 4\n')).toBeNull();
    expect(parseProcStat('')).toBeNull();
  });
  it('a kernel without the steal field (before 2.6.11) reads as no steal', () => {
    expect(parseProcStat('cpu  10 0 5 85\n')).toEqual({ total: 100, steal: 0 });
  });
  it('steal between readings is a percentage of all CPU time in between', () => {
    expect(stealPercent({ total: 1000, steal: 100 }, { total: 3000, steal: 600 })).toBe(25);
    expect(stealPercent({ total: 1000, steal: 100 }, { total: 1000, steal: 100 })).toBeNaN();
    expect(stealPercent(null, { total: 1, steal: 0 })).toBeNaN();
  });
});
