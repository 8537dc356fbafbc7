import { describe, expect, it } from 'vitest';
import { MIN_SLICE_NS, SliceSizer, WINDOW_NS } from '../../src/machine/slice-sizer';

describe('SliceSizer (host-clock slices to the next deadline)', () => {
  it('learns the speed from slices of any size, so a low estimate cannot trap it in small slices', () => {
    const s = new SliceSizer(20e6);
    // 1,000-instruction slices at 200 M instructions/s: 5 µs each.
    for (let k = 0; k < 2000; k++) s.record(1000, 5000);
    expect(s.ips).toBeGreaterThan(190e6);
    expect(s.ips).toBeLessThan(201e6);
    // A deadline 1 ms away now gets a slice worth about 1 ms.
    expect(s.sliceFor(1e6)).toBeGreaterThan(190_000);
  });

  it('moves only once a window of host time is pooled', () => {
    const s = new SliceSizer(50e6);
    s.record(100_000, WINDOW_NS / 2);
    expect(s.ips).toBe(50e6);
    s.record(100_000, WINDOW_NS / 2);
    // 200,000 instructions in 1 ms = 200 M/s, averaged half and half with the old estimate.
    expect(s.ips).toBeCloseTo(125e6, -3);
  });

  it('never sizes a slice below MIN_SLICE_NS of work, even at or past the deadline', () => {
    const s = new SliceSizer(100e6);
    const min = Math.floor((MIN_SLICE_NS * 100e6) / 1e9);
    expect(min).toBeGreaterThan(1);
    expect(s.sliceFor(0)).toBe(min);
    expect(s.sliceFor(-5000)).toBe(min);
    expect(s.sliceFor(10)).toBe(min);
    expect(s.sliceFor(1e6)).toBe(100_000);
    expect(new SliceSizer(1).sliceFor(0)).toBe(1);
  });

  it('ignores empty slices (a halted CPU) and nonsense', () => {
    const s = new SliceSizer(30e6);
    for (let k = 0; k < 100; k++) { s.record(0, WINDOW_NS); s.record(NaN, WINDOW_NS); s.record(10, -1); }
    expect(s.ips).toBe(30e6);
  });
});
