// The TUI's screen model without a terminal: panels, symbols, the changed-register
// marker, protected-mode segment decoding, and command-line addresses.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine } from '../../src/machine/machine';
import { Debugger } from '../../src/debug/debugger';
import { TuiState } from '../../src/debug/tui/app';
import { parseAddrExpr } from '../../src/debug/tui/expr';
import { parseElfSymbols } from '../../src/debug/symbols';
import { stripAnsi } from '../../src/debug/tui/ansi';

const ROOT = join(__dirname, '..', '..');
const read = (p: string) => new Uint8Array(readFileSync(join(ROOT, p)));

function make(file: string): Debugger {
  return new Debugger(new Machine({ memMiB: 64, kernel: { path: file, image: read(file) }, flatAddr: 0x7c00, flatBits: 16, deterministic: true }));
}

describe('TUI screen model', () => {
  it('shows symbols in the disassembly and marks changed registers', () => {
    const d = make('fixtures/step/steptest.bin');
    const symbols = parseElfSymbols(read('fixtures/step/steptest.elf'));
    expect(symbols.describe(0x7c30)).toBe('func+0x1');
    expect(symbols.resolve('sum')).toBe(0x7c0c);
    const st = new TuiState(d, { symbols, console: { lastLines: () => ['guest says hi'] } });
    d.runTo(0x7c12);
    expect(stripAnsi(st.render(120, 40).join('\n'))).toMatch(/=>0000:7c12  e8 1a 00 +call 0x7c2f <func>/);
    const before = d.regs();
    d.step();
    st.prev = before;
    const screen = st.render(120, 40).map(stripAnsi);
    expect(screen).toHaveLength(40);
    for (const l of screen) expect(l.length).toBe(120);
    const text = screen.join('\n');
    expect(text).toContain('Disassembly <func>');
    expect(text).toContain('<func>:');
    expect(text).toMatch(/=>0000:7c2f {2}43 +inc bx/);
    expect(text).toMatch(/ESP 00007bfe\*/);
    expect(text).toMatch(/EAX 00000006 /);
    expect(text).toContain('SP  7bfe: 7c15  <sum+0x9>');
    expect(text).toContain('guest says hi');
  });

  it('decodes protected-mode segments and shows the page walk once paging is on', () => {
    const d = make('fixtures/mmu/mmutest.bin');
    d.addWatchpoint('write', 0x6000, 4); // RESULTS: written once paging is on
    const ev = d.cont(2_000_000);
    expect(ev.reason).toBe('watchpoint');
    const st = new TuiState(d, { symbols: null, console: { lastLines: () => [] } });
    st.walkAddr = 0x400000;
    const text = st.render(120, 40).map(stripAnsi).join('\n');
    expect(text).toMatch(/CS 0008 +00000000 ffffffff code RX DPL0 32/);
    expect(text).toMatch(/DS 0010 +00000000 ffffffff data RW DPL0/);
    expect(text).toContain('protected+paging, 32-bit code');
    expect(text).toMatch(/linear 0x00400000: 32-bit paging, CR3=0x00100000/);
  });

  it('parses command-line addresses: hex, seg:off, registers, symbols, offsets', () => {
    const d = make('fixtures/step/steptest.bin');
    const symbols = parseElfSymbols(read('fixtures/step/steptest.elf'));
    expect(parseAddrExpr('7c00', d, null)).toBe(0x7c00);
    expect(parseAddrExpr('0x7c00', d, null)).toBe(0x7c00);
    expect(parseAddrExpr('07c0:0010', d, null)).toBe(0x7c10);
    expect(parseAddrExpr('eip', d, null)).toBe(0x7c00);
    expect(parseAddrExpr('$esp', d, null)).toBe(0x7c00);
    expect(parseAddrExpr('func', d, symbols)).toBe(0x7c2f);
    expect(parseAddrExpr('func+4', d, symbols)).toBe(0x7c33);
    expect(parseAddrExpr('eip-0x10', d, symbols)).toBe(0x7bf0);
    expect(parseAddrExpr('nonsense!', d, symbols)).toBeNull();
  });
});
