// MMU guest test: fixtures/mmu/mmutest.S (self-modifying code through aliases and across
// a page boundary; page-table edits with and without INVLPG; #PF on a cleared P bit;
// no partial page-crossing write; A/D bits), run on every combination of the fast
// paths: TLB on/off, decoded-instruction cache on/off, address-space slots kept or not.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Exit } from '../../src/cpu/interfaces';
import { runRealModeGuest } from '../cpu-pm/guest';

const CHECKS = 10;
const RESULTS = 0x6000;
const image = readFileSync(new URL('../../fixtures/mmu/mmutest.bin', import.meta.url));

const combos: { tlb: boolean; decodeCache: boolean; tlbKeepAcrossCr3: boolean }[] = [];
for (const tlb of [true, false]) for (const decodeCache of [true, false]) for (const tlbKeepAcrossCr3 of tlb ? [true, false] : [true]) combos.push({ tlb, decodeCache, tlbKeepAcrossCr3 });

describe('mmutest guest', () => {
  it.each(combos)('tlb=$tlb decodeCache=$decodeCache keepAcrossCr3=$tlbKeepAcrossCr3: every check passes', (opts) => {
    const { out, exit, cpu } = runRealModeGuest(image, 0x7c00, { ...opts, ramMiB: 8, budget: 1_000_000 });
    const lines = out.split('\n').filter(Boolean);
    expect(lines.filter((l) => l.startsWith('FAIL')), `${out}\n${cpu.describe()}`).toEqual([]);
    for (let n = 1; n <= CHECKS; n++) expect(lines, out).toContainEqual(expect.stringMatching(new RegExp(`^ok ${n} `)));
    expect(lines.at(-1)).toBe('done');
    expect(exit).toBe(Exit.Halt);
    // Without INVLPG the architecture allows the stale translation; ts86's TLB is kept
    // coherent by the rmap, so the guest always sees the new mapping / the fault.
    expect(cpu.mem.read32(RESULTS) >>> 0).toBe(0xbbbb0002);
    expect(cpu.mem.read32(RESULTS + 4)).toBe(1);
    if (opts.decodeCache) expect(cpu.mmuStats().code.invalidations).toBeGreaterThan(5);
  });
});
