// `ts86 run` end to end: the built CLI, spawned as a user would run it.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(__dirname, '..', '..', 'bin', 'ts86.js');

function ts86(args: string[], timeoutMs = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ts86 run', () => {
  it('runs a test kernel written for QEMU (multiboot ELF) and exits with the status QEMU gives', () => {
    const r = ts86(['run', '-k', 'fixtures/multiboot/mbtest.elf', '-m', '64', '-p', 'foo=bar']);
    expect(r.stdout).toContain('ok 2 boot info; cmdline: mbtest.elf foo=bar');
    expect(r.stdout).toContain('mbtest: all checks passed');
    expect(r.status).toBe((0x10 << 1) | 1);
    expect(r.stderr).toMatch(/# ts86 run -k .*mbtest\.elf -m 64 -c 1 --name guest-\d+/);
    expect(r.stderr).toMatch(/session ended normally/);
  });

  it('runs a flat binary that programs PIC, PIT and UART and exits through port 0xf4', () => {
    const r = ts86(['run', 'fixtures/platform/kernel.bin', '-m', '64']);
    expect(r.stdout).toContain('ticks: 10');
    expect(r.status).toBe((0x21 << 1) | 1);
  });

  it('deterministic runs give identical output', () => {
    const a = ts86(['run', 'fixtures/platform/apic-kernel.bin', '-m', '64', '--deterministic', '--stats']);
    const b = ts86(['run', 'fixtures/platform/apic-kernel.bin', '-m', '64', '--deterministic', '--stats']);
    expect(a.stdout).toBe(b.stdout);
    const stats = (s: string) => JSON.parse(s.slice(s.indexOf('{'))) as { instructions: number };
    expect(stats(a.stderr).instructions).toBe(stats(b.stderr).instructions);
    expect(a.status).toBe(b.status);
  });

  it('--stats prints the TLB, reverse-map and code-cache counters', () => {
    const r = ts86(['run', '-k', 'fixtures/multiboot/mbtest.elf', '-m', '64', '--stats']);
    const s = JSON.parse(r.stderr.slice(r.stderr.indexOf('{'))) as Record<string, Record<string, number>>;
    for (const k of ['hits', 'misses', 'flushes', 'walks']) expect(s.tlb).toHaveProperty(k);
    for (const k of ['allocs', 'frees', 'steals', 'promotions', 'invalidations']) expect(s.rmap).toHaveProperty(k);
    expect(s.code.decodes).toBeGreaterThan(0);
  });

  it('--dump-pagetables prints the walk of an address and the mapped ranges at exit', () => {
    const r = ts86(['run', '-k', 'fixtures/mmu/mmutest.bin', '--bits', '16', '--flat-addr', '0x7c00', '-m', '64', '--dump-pagetables', '0x400000']);
    expect(r.stdout).toContain('done');
    expect(r.stderr).toMatch(/linear 0x00400000: 32-bit paging, CR3=0x00100000, PDE 1, PTE 0/);
    expect(r.stderr).toMatch(/PTE\s+@0x00102000 = 0x[0-9a-f]{8}\s+P RW/);
    expect(r.stderr).toMatch(/mapped ranges \(CR3=00100000\):\n\s+0x00000000-0x003fffff -> 0x00000000/);
  });

  it('a closed stdout (`ts86 run ... | head`) ends the run with status 141 and one line, no stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts86-cli-'));
    // L: mov edx, 0x3f8 | mov al, 'x' | out dx, al | jmp L+5: prints to the UART forever
    writeFileSync(join(dir, 'chatty.bin'), Uint8Array.from([0xba, 0xf8, 0x03, 0, 0, 0xb0, 0x78, 0xee, 0xeb, 0xfb]));
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [BIN, 'run', '-k', join(dir, 'chatty.bin'), '-m', '64'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    let code: number | null;
    try {
      await new Promise<void>((res) => child.stdout.once('data', () => res()));
      child.stdout.destroy(); // the reader goes away, as `head` does
      code = await Promise.race([exited, new Promise<null>((res) => setTimeout(() => res(null), 20_000))]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(code).toBe(141);
    expect(err).toMatch(/stdout was closed/);
    expect(err).not.toMatch(/EPIPE|at writeSync|node:fs/);
  });

  it('SIGQUIT dumps registers, code at EIP and the stack; SIGUSR2 pauses and resumes; SIGINT stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts86-cli-'));
    writeFileSync(join(dir, 'spin.bin'), Uint8Array.from([0x90, 0xeb, 0xfd])); // nop; jmp back
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [BIN, 'run', '-k', join(dir, 'spin.bin'), '-m', '64'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
    const until = async (re: RegExp) => { for (let k = 0; k < 200 && !re.test(err); k++) await sleep(50); };
    const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    let code: number | null;
    try {
      await until(/# ts86 run/);
      child.kill('SIGQUIT');
      await until(/EIP=/);
      child.kill('SIGUSR2');
      await until(/guest paused/);
      child.kill('SIGUSR2');
      await until(/guest resumed/);
      child.kill('SIGINT');
      code = await exited;
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL'); // never leave a guest spinning
    }
    expect(err).toMatch(/EIP=0010000[0-3]/);
    expect(err).toMatch(/=> 0010000[0-3]: (nop|jmp)/);
    expect(err).toMatch(/stack at /);
    expect(err).toMatch(/guest paused[\s\S]*guest resumed/);
    expect(code).toBe(130);
  });

  it('--trace writes address, bytes, disassembly and changed registers, capped by --trace-max and filtered by --trace-range', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts86-cli-'));
    const f = join(dir, 'trace.txt');
    const r = ts86(['run', '-k', 'fixtures/multiboot/mbtest.elf', '-m', '64', '--trace', f, '--trace-max', '3']);
    expect(r.status).toBe(33); // the guest runs on to the end after the cap
    const lines = readFileSync(f, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^0008:0010000c {2}bc [0-9a-f ]+ +mov esp,0x[0-9a-f]+ +ESP=[0-9a-f]{8}$/);
    const g = join(dir, 'range.txt');
    ts86(['run', '-k', 'fixtures/multiboot/mbtest.elf', '-m', '64', '--trace', g, '--trace-range', '1001be-1001c2', '--trace-max', '1000']);
    const ranged = readFileSync(g, 'utf8').trim().split('\n');
    expect(ranged.length).toBeGreaterThan(0);
    for (const l of ranged) expect(l).toMatch(/^0008:001001(b[e-f]|c[0-2]) /);
  });

  describe('bad input: one clear line, non-zero exit, no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts86-cli-'));
    const cases: [string, string[], RegExp, (() => void)?][] = [
      ['a missing kernel', ['run', '-k', join(dir, 'nope'), '-m', '64'], /kernel .*nope: no such file/],
      ['too little memory', ['run', '-k', 'fixtures/multiboot/mbtest.elf', '-m', '32'], /at least 64 MiB/],
      ['a bad memory size', ['run', '-k', 'fixtures/multiboot/mbtest.elf', '-m', 'lots'], /not a memory size/],
      ['a missing disk', ['run', '-k', 'fixtures/multiboot/mbtest.elf', '-m', '64', '-d', join(dir, 'disk.img')], /-d .*disk\.img: no such file/],
      ['a truncated bzImage', ['run', '-k', join(dir, 'trunc.bz'), '-m', '64'], /bzImage truncated/, () => {
        const img = new Uint8Array(1024);
        img[0x1fe] = 0x55; img[0x1ff] = 0xaa; img.set([0x48, 0x64, 0x72, 0x53], 0x202); img[0x206] = 0x0f; img[0x207] = 0x02; img[0x211] = 1; img[0x1f1] = 20;
        writeFileSync(join(dir, 'trunc.bz'), img);
      }],
      ['an ELF for another machine', ['run', '-k', join(dir, 'arm.elf'), '-m', '64'], /not i386/, () => {
        const img = new Uint8Array(64);
        img.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]); img[18] = 40; // EM_ARM
        writeFileSync(join(dir, 'arm.elf'), img);
      }],
      ['a bad --trace-range', ['run', '-k', 'fixtures/multiboot/mbtest.elf', '-m', '64', '--trace', '-', '--trace-range', 'zz'], /--trace-range zz: use LO-HI/],
      ['a qcow2 disk', ['run', '-k', 'fixtures/multiboot/mbtest.elf', '-m', '64', '-d', join(dir, 'd.qcow2')], /d\.qcow2: this is a qcow2 image; ts86 takes raw images only/, () => {
        writeFileSync(join(dir, 'd.qcow2'), Uint8Array.of(0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3, ...new Array(504).fill(0)));
      }],
      ['a bad disk option', ['run', '-k', 'fixtures/multiboot/mbtest.elf', '-m', '64', '-d', 'fixtures/multiboot/mbtest.elf,rw'], /unknown disk option "rw"/],
      ['five disks', ['run', '-k', 'fixtures/multiboot/mbtest.elf', '-m', '64', ...new Array(5).fill(['-d', 'fixtures/multiboot/mbtest.elf,ro']).flat()], /5 disks given: at most 4/],
    ];
    for (const [name, args, msg, prep] of cases) {
      it(name, () => {
        prep?.();
        const r = ts86(args);
        expect(r.status).toBe(2);
        expect(r.stderr).toMatch(msg);
        expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
        expect(r.stderr.trim().split('\n').length).toBe(1);
      });
    }
  });

  it('a kernel panic on the console ends with status 5', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts86-cli-'));
    // Flat 32-bit: print the panic line on COM1 (no need to wait for THRE with the fast line), then cli; hlt.
    const msg = 'Kernel panic - not syncing: test\n';
    const code: number[] = [0xbe, 0x20, 0x00, 0x10, 0x00, 0x66, 0xba, 0xf8, 0x03]; // mov esi, 0x100020; mov dx, 0x3f8
    code.push(0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xfa, 0xf4); // 1: lodsb; test al,al; jz 2f; out dx,al; jmp 1b; 2: cli; hlt
    while (code.length < 0x20) code.push(0x90);
    writeFileSync(join(dir, 'panic.bin'), Uint8Array.from([...code, ...Array.from(msg, (c) => c.charCodeAt(0)), 0]));
    const r = ts86(['run', '-k', join(dir, 'panic.bin'), '-m', '64']);
    expect(r.stdout).toContain('Kernel panic - not syncing: test');
    expect(r.status).toBe(5);
    expect(r.stderr).toMatch(/the kernel panicked/);
  });

  it('a guest error (IRET into virtual-8086 mode) ends with status 4, the reason and a dump', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts86-cli-'));
    // push 0 x4 (gs fs ds es), push ss, push esp, push eflags with VM, push cs, push eip; iretd
    const code = [0x6a, 0x00, 0x6a, 0x00, 0x6a, 0x00, 0x6a, 0x00, 0x6a, 0x10, 0x68, 0x00, 0x10, 0x00, 0x00,
      0x68, 0x02, 0x00, 0x02, 0x00, 0x6a, 0x08, 0x68, 0x00, 0x10, 0x00, 0x00, 0xcf];
    writeFileSync(join(dir, 'v86.bin'), Uint8Array.from(code));
    const r = ts86(['run', '-k', join(dir, 'v86.bin'), '-m', '64']);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/virtual-8086 mode is not supported yet/);
    expect(r.stderr).toMatch(/EIP=0010001b/); // at the IRET: nothing committed
  });

  it('a guest that triple-faults ends with status 3 and a register dump', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts86-cli-'));
    // Flat 32-bit: lidt with limit 0, then int3 -> #GP -> #DF -> triple fault.
    const code = [0x0f, 0x01, 0x1d, 0x10, 0x00, 0x10, 0x00, 0xcc, 0xf4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    writeFileSync(join(dir, 'tf.bin'), Uint8Array.from(code));
    const r = ts86(['run', '-k', join(dir, 'tf.bin'), '-m', '64']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/triple fault/);
    expect(r.stderr).toMatch(/EIP=/);
    void readFileSync;
  });
});
