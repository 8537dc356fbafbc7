// `ts86 step --plain` and `--trace` end to end (the built CLI) on fixtures/step/steptest.S,
// instruction by instruction against the documented line format (src/debug/trace.ts).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'ts86.js');
const FIXTURE = join(ROOT, 'fixtures', 'step', 'steptest.bin');

function ts86(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Every instruction of the fixture: address, bytes, disassembly, changed registers, flag changes.
const EXPECTED = [
  '0000:7c00  31 c0                 xor ax,ax                    EFL=00000046 +PF +ZF',
  '0000:7c02  8e d8                 mov ds,ax',
  '0000:7c04  8e d0                 mov ss,ax',
  '0000:7c06  bc 00 7c              mov sp,0x7c00',
  '0000:7c09  b9 03 00              mov cx,0x3                   ECX=00000003',
  '0000:7c0c  01 c8                 add ax,cx                    EAX=00000003 EFL=00000006 -ZF',
  '0000:7c0e  e2 fc                 loop 0x7c0c                  ECX=00000002',
  '0000:7c0c  01 c8                 add ax,cx                    EAX=00000005',
  '0000:7c0e  e2 fc                 loop 0x7c0c                  ECX=00000001',
  '0000:7c0c  01 c8                 add ax,cx                    EAX=00000006',
  '0000:7c0e  e2 fc                 loop 0x7c0c                  ECX=00000000',
  '0000:7c10  50                    push ax                      ESP=00007bfe',
  '0000:7c11  5b                    pop bx                       EBX=00000006 ESP=00007c00',
  '0000:7c12  e8 1a 00              call 0x7c2f                  ESP=00007bfe',
  '0000:7c2f  43                    inc bx                       EBX=00000007 EFL=00000002 -PF',
  '0000:7c30  83 eb 02              sub bx,0x2                   EBX=00000005 EFL=00000006 +PF',
  '0000:7c33  c3                    ret                          ESP=00007c00',
];

describe('ts86 step --plain', () => {
  it('prints one line per instruction with the registers and flags each one changed', () => {
    const r = ts86(['step', '--plain', '--bits', '16', '--org', '0x7c00', FIXTURE]);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.slice(0, EXPECTED.length)).toEqual(EXPECTED);
    // The rest: segment copy, REP STOSB, the store the watchpoint tests use, the exit.
    expect(lines[EXPECTED.length]).toMatch(/^0000:7c15  8c da {17}mov dx,ds/);
    expect(lines).toContain('0000:7c22  f3 aa                 rep stos BYTE PTR es:[di],al ECX=00000000 EDI=00007c3a');
    expect(lines).toContain('0000:7c24  c7 06 34 7c 34 12     mov WORD PTR ds:0x7c34,0x1234');
    expect(lines[lines.length - 1]).toBe('0000:7c2c  e6 f4                 out 0xf4,al');
    expect(lines).toHaveLength(27);
    expect(r.stderr).toContain('# 27 instructions; the guest ended: isa-debug-exit: guest wrote 0x21 (exit status 67)');
    expect(r.status).toBe(67);
  });

  it('--count N stops after N instructions', () => {
    const r = ts86(['step', '--plain', '--count', '5', '--bits', '16', '--flat-addr', '0x7c00', FIXTURE]);
    expect(r.stdout.trimEnd().split('\n')).toEqual(EXPECTED.slice(0, 5));
    expect(r.stderr).toContain('# 5 instructions; stopped (step) at linear 00007c0c');
    expect(r.status).toBe(0);
  });

  it('--until runs to an address at full speed first', () => {
    const r = ts86(['step', '--plain', '--count', '3', '--until', '0x7c2f', '--bits', '16', '--org', '0x7c00', FIXTURE]);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      '0000:7c2f  43                    inc bx                       EBX=00000007 EFL=00000002 -PF',
      '0000:7c30  83 eb 02              sub bx,0x2                   EBX=00000005 EFL=00000006 +PF',
      '0000:7c33  c3                    ret                          ESP=00007c00',
    ]);
  });

  it('--vmlinux names addresses and branch targets with the ELF file\'s symbols', () => {
    const r = ts86(['step', '--plain', '--count', '16', '--vmlinux', join(ROOT, 'fixtures', 'step', 'steptest.elf'), '--bits', '16', '--org', '0x7c00', FIXTURE]);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('0000:7c00 <_start>                    31 c0                 xor ax,ax                    EFL=00000046 +PF +ZF');
    expect(lines[6]).toBe('0000:7c0e <sum+0x2>                   e2 fc                 loop 0x7c0c <sum>            ECX=00000002');
    expect(lines[13]).toBe('0000:7c12 <sum+0x6>                   e8 1a 00              call 0x7c2f <func>           ESP=00007bfe');
    expect(lines[15]).toBe('0000:7c30 <func+0x1>                  83 eb 02              sub bx,0x2                   EBX=00000005 EFL=00000006 +PF');
  });

  it('rejects bad options with one line and status 2', () => {
    const r = ts86(['step', '--plain', '--count', 'x', '--bits', '16', FIXTURE]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^ts86: --count x: must be a positive integer\n$/);
  });
});

describe('ts86 step --trace', () => {
  it('writes the same lines to a file, filtered by --trace-range and capped by --trace-max', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts86-trace-'));
    const file = join(dir, 'trace.txt');
    const r = ts86(['step', '--trace', file, '--trace-range', '7c2f-7c33', '--bits', '16', '--org', '0x7c00', FIXTURE]);
    expect(r.status).toBe(67);
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toEqual(EXPECTED.slice(14, 17));
    expect(r.stderr).toContain('3 trace lines');
    const capped = ts86(['step', '--trace', '-', '--trace-max', '4', '--bits', '16', '--org', '0x7c00', FIXTURE]);
    expect(capped.stdout.trimEnd().split('\n')).toEqual(EXPECTED.slice(0, 4));
    expect(capped.status).toBe(67);
  });
});
