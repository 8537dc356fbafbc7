// Protected-mode guest test: fixtures/cpu/pmtest.S runs 27 checks of privilege levels, gates,
// task switches, segment checks, paging, debug traps and SYSENTER, reporting over port 0xE9.
import { describe, expect, it } from 'vitest';
import { Exit } from '../../src/cpu/interfaces';
import { fixture, runRealModeGuest } from './guest';

const CHECKS = 27;

describe.each([
  ['decoded-instruction cache on', true],
  ['decoded-instruction cache off (reference path)', false],
])('pmtest guest (%s)', (_name, decodeCache) => {
  it('passes every check and halts', () => {
    const { out, exit, cpu } = runRealModeGuest(fixture('pmtest.bin'), 0x7c00, { decodeCache });
    const lines = out.split('\n').filter(Boolean);
    expect(lines.filter((l) => l.startsWith('FAIL')), `${out}\n${cpu.describe()}`).toEqual([]);
    for (let n = 1; n <= CHECKS; n++) expect(lines, out).toContainEqual(expect.stringMatching(new RegExp(`^ok ${n} `)));
    expect(lines.at(-1)).toBe('done');
    expect(exit).toBe(Exit.Halt);
  });
});
