// The gdb stub: RSP framing (pure), the protocol over a real socket against a fake
// debugger, the real Debugger and Machine in-process (breakpoint, memory, Ctrl-C), and
// end to end: `ts86 run -S --gdb` driven by Debian's gdb in batch mode.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GdbStub, parseGdbDevice, type GdbRunEnd, type GdbTarget } from '../../src/debug/gdbstub';
import { RspReader, rspChecksum, rspFrame, rspEscape, rspUnescape, le32Hex, parseLe32Hex, fromHex, toHex } from '../../src/debug/gdb-packet';
import { I386_TARGET_XML } from '../../src/debug/gdb-target-xml';
import { Debugger, type RegisterSnapshot, type StopEvent, type WatchKind } from '../../src/debug/debugger';
import { Machine, type RunOutcome } from '../../src/machine/machine';

const ROOT = join(__dirname, '..', '..');
const FIXTURE = join(ROOT, 'fixtures', 'gdb', 'gdbtest.elf');
// Addresses in fixtures/gdb/gdbtest.elf (`nm fixtures/gdb/gdbtest.elf`).
const START = 0x10000c, BP_HERE = 0x10002a, SPIN_CHECK = 0x100032, VALUE = 0x101000, SPIN = 0x101010;

// ---------------------------------------------------------------------- framing

describe('RSP framing', () => {
  it('checksums and frames packets, escaping $ # } *', () => {
    expect(rspChecksum('OK')).toBe(0x9a);
    expect(rspFrame('OK')).toBe('$OK#9a');
    expect(rspFrame('qSupported')).toBe('$qSupported#37');
    expect(rspEscape('a$b#c}d*e')).toBe('a}\x04b}\x03c}]d}\x0ae');
    expect(rspUnescape(rspEscape('a$b#c}d*e'))).toBe('a$b#c}d*e');
    expect(rspFrame('}')).toBe(`$}]#${rspChecksum('}]').toString(16).padStart(2, '0')}`);
  });

  it('splits a byte stream into acks, interrupts and packets, across chunk boundaries', () => {
    const r = new RspReader();
    expect(r.feed('+$g#6')).toEqual([{ kind: 'ack' }]);
    expect(r.feed('7-\x03$m0,4#fd$?#00')).toEqual([
      { kind: 'packet', data: 'g', checksumOk: true },
      { kind: 'nack' },
      { kind: 'interrupt' },
      { kind: 'packet', data: 'm0,4', checksumOk: true },
      { kind: 'packet', data: '?', checksumOk: false },
    ]);
    expect(r.feed(Buffer.from('junk+'))).toEqual([{ kind: 'ack' }]);
  });

  it('converts registers and bytes to and from target-order hex', () => {
    expect(le32Hex(0x11223344)).toBe('44332211');
    expect(le32Hex(-1)).toBe('ffffffff');
    expect(parseLe32Hex('44332211')).toBe(0x11223344);
    expect(parseLe32Hex('4433221')).toBeNull();
    expect(toHex(fromHex('00ff7f') as Uint8Array)).toBe('00ff7f');
    expect(fromHex('zz')).toBeNull();
  });

  it('parses gdb devices as QEMU writes them', () => {
    expect(parseGdbDevice('tcp::1234')).toEqual({ host: '', port: 1234 });
    expect(parseGdbDevice('tcp:127.0.0.1:4321')).toEqual({ host: '127.0.0.1', port: 4321 });
    expect(parseGdbDevice('tcp:[::1]:5000')).toEqual({ host: '::1', port: 5000 });
    expect(parseGdbDevice('1234')).toEqual({ host: '', port: 1234 });
    expect(parseGdbDevice('udp::1234')).toBeNull();
    expect(parseGdbDevice('tcp::99999')).toBeNull();
  });

  it('describes an i386 target with the core feature gdb requires', () => {
    expect(I386_TARGET_XML).toContain('<architecture>i386</architecture>');
    expect(I386_TARGET_XML).toContain('<feature name="org.gnu.gdb.i386.core">');
    const regs = [...I386_TARGET_XML.matchAll(/<reg name="(\w+)"/g)].map((m) => m[1]);
    expect(regs.slice(0, 16)).toEqual(['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs']);
    expect(regs).toHaveLength(36); // + st0-7, the x87 control registers, cr0/cr2/cr3/cr4
    expect(regs.slice(32)).toEqual(['cr0', 'cr2', 'cr3', 'cr4']);
    expect(I386_TARGET_XML).toContain('<reg name="cr0" bitsize="32" type="int32" regnum="32" group="system"/>');
  });
});

// ---------------------------------------------------------------------- a client

/** A minimal gdb: frames requests, acknowledges replies, records what it received. */
class RspClient {
  private buf = '';
  private waiter: (() => void) | null = null;
  acks = 0;
  nacks = 0;
  noAck = false;
  closed = false;

  private constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => { this.buf += d.toString('latin1'); this.waiter?.(); });
    sock.on('close', () => { this.closed = true; this.waiter?.(); });
  }

  static open(port: number): Promise<RspClient> {
    return new Promise((res, rej) => {
      const s = connect({ port, host: '127.0.0.1', noDelay: true }, () => res(new RspClient(s)));
      s.once('error', rej);
    });
  }

  raw(s: string): void { this.sock.write(Buffer.from(s, 'latin1')); }
  send(body: string): void { this.raw(rspFrame(body)); }

  /** The next packet's body (acks before it are counted); acknowledges it unless in no-ack mode. */
  async packet(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.buf[0] === '+' || this.buf[0] === '-') {
        if (this.buf[0] === '+') this.acks++; else this.nacks++;
        this.buf = this.buf.slice(1);
      }
      const hash = this.buf.indexOf('#');
      if (this.buf[0] === '$' && hash > 0 && this.buf.length >= hash + 3) {
        const body = this.buf.slice(1, hash);
        expect(Number.parseInt(this.buf.slice(hash + 1, hash + 3), 16)).toBe(rspChecksum(body));
        this.buf = this.buf.slice(hash + 3);
        if (!this.noAck) this.raw('+');
        return body;
      }
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no packet within ${timeoutMs} ms (have ${JSON.stringify(this.buf)})`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiter = () => { clearTimeout(t); this.waiter = null; res(); };
      });
    }
  }

  async request(body: string): Promise<string> {
    this.send(body);
    return this.packet();
  }

  /** Waits for the stub to close the connection. */
  async closedByPeer(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void { this.sock.destroy(); }
}

// ---------------------------------------------------------------------- a fake debugger

/**
 * A guest whose "instructions" each advance EIP by one byte, from 0x1000 up to
 * `exitAt` where it exits with status 0x55; `spin` keeps it in place forever. The
 * instruction at 0x1050 writes the dword at 0x2000. Readable memory: 0x1000-0x2fff.
 */
class FakeTarget implements GdbTarget {
  r: RegisterSnapshot = {
    eax: 0x11223344, ecx: 0x55667788, edx: 0x99aabbcc, ebx: 0, esp: 0x9000, ebp: 0, esi: 0, edi: 0,
    eip: 0x1000, eflags: 0x202, cs: 8, ss: 0x10, ds: 0x10, es: 0x10, fs: 0x10, gs: 0x10, cr0: 0x11, cr2: 0, cr3: 0, cr4: 0,
  };
  mem = new Uint8Array(0x2000);
  bps = new Map<number, number>();
  wps = new Map<number, { kind: WatchKind; addr: number; len: number }>();
  private nextId = 1;
  stopPending = false;
  spin = false;
  exitAt = 0x1100;
  requestStops = 0;
  conts = 0;

  constructor() { for (let i = 0; i < this.mem.length; i++) this.mem[i] = i & 0xff; }

  private ev(reason: StopEvent['reason']): StopEvent { return { reason, eip: this.r.eip, linear: this.r.eip }; }

  /** One instruction; a stop event when it ends the run. */
  private exec(): StopEvent | null {
    if (this.spin) return null;
    const at = this.r.eip;
    this.r.eip++;
    if (at === 0x1050) {
      this.mem.set([1, 2, 3, 4], 0x1000);
      for (const [id, w] of this.wps) {
        if (w.kind !== 'read' && 0x2000 < w.addr + w.len && w.addr < 0x2004) return { ...this.ev('watchpoint'), watch: { id, addr: 0x2000, write: true } };
      }
    }
    if (this.r.eip >= this.exitAt) {
      const outcome: RunOutcome = { reason: 'debug-exit', exitStatus: 0x55, message: 'fake exit', instructions: 0 };
      return { ...this.ev('exited'), outcome };
    }
    return null;
  }

  step(): StopEvent {
    if (this.stopPending) { this.stopPending = false; return this.ev('requested'); }
    return this.exec() ?? this.ev('step');
  }
  stepOver(): StopEvent { return this.step(); }
  cont(maxInstructions = Infinity): StopEvent {
    this.conts++;
    if (this.stopPending) { this.stopPending = false; return this.ev('requested'); }
    for (let i = 0; i < Math.min(maxInstructions, 64); i++) {
      if (i > 0 && this.bps.has(this.r.eip)) return this.ev('breakpoint');
      const e = this.exec();
      if (e) return e;
    }
    return this.ev('budget');
  }
  requestStop(): void { this.stopPending = true; this.requestStops++; }
  addBreakpoint(linear: number): number { const id = this.nextId++; this.bps.set(linear, id); return id; }
  removeBreakpoint(id: number): boolean {
    for (const [lin, i] of this.bps) if (i === id) { this.bps.delete(lin); return true; }
    return false;
  }
  addWatchpoint(kind: WatchKind, addr: number, len: number): number { const id = this.nextId++; this.wps.set(id, { kind, addr, len }); return id; }
  removeWatchpoint(id: number): boolean { return this.wps.delete(id); }
  regs(): RegisterSnapshot { return { ...this.r }; }
  setReg(name: keyof RegisterSnapshot, v: number): void {
    if (name === 'cs' && v === 0xdead) throw new Error('#GP');
    this.r[name] = v >>> 0;
  }
  readLinear(addr: number, len: number): (number | null)[] {
    const out: (number | null)[] = [];
    for (let k = 0; k < len; k++) { const a = addr + k; out.push(a >= 0x1000 && a < 0x3000 ? this.mem[a - 0x1000] : null); }
    return out;
  }
  writeLinear(addr: number, data: Uint8Array): boolean {
    if (addr < 0x1000 || addr + data.length > 0x3000) return false;
    this.mem.set(data, addr - 0x1000);
    return true;
  }
}

const open: { stub: GdbStub; client?: RspClient }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) { o.client?.close(); o.stub.close(); }
});

it('close() ends a run that waits for gdb', async () => {
  const stub = new GdbStub(new FakeTarget(), { host: '127.0.0.1', port: 0, waitForDebugger: true });
  await stub.listen();
  const done = stub.run();
  stub.close();
  expect((await done).kind).toBe('closed');
});

async function start(target: GdbTarget, waitForDebugger = true): Promise<{ stub: GdbStub; client: RspClient; done: Promise<GdbRunEnd> }> {
  const stub = new GdbStub(target, { host: '127.0.0.1', port: 0, waitForDebugger, sliceNs: 2e6 });
  await stub.listen();
  const done = stub.run();
  const client = await RspClient.open(stub.port);
  open.push({ stub, client });
  return { stub, client, done };
}

describe('gdb stub protocol (fake debugger, real socket)', () => {
  it('acknowledges packets, asks for a resend on a bad checksum, resends on a nack, and honours QStartNoAckMode', async () => {
    const { client } = await start(new FakeTarget());
    expect(await client.request('qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386')).toBe('PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+');
    expect(client.acks).toBe(1);
    client.raw('$g#00'); // wrong checksum
    client.send('?');
    expect(await client.packet()).toBe('T05thread:01;');
    expect(client.nacks).toBe(1);
    client.raw('-'); // "say again"
    expect(await client.packet()).toBe('T05thread:01;');
    expect(await client.request('QStartNoAckMode')).toBe('OK');
    client.noAck = true;
    const acks = client.acks;
    expect(await client.request('qAttached')).toBe('1');
    expect(await client.request('vMustReplyEmpty')).toBe('');
    expect(client.acks).toBe(acks); // no more acks from the stub
  });

  it('answers the thread and status queries gdb sends on attach', async () => {
    const { client } = await start(new FakeTarget());
    expect(await client.request('?')).toBe('T05thread:01;');
    expect(await client.request('qC')).toBe('QC01');
    expect(await client.request('qfThreadInfo')).toBe('m01');
    expect(await client.request('qsThreadInfo')).toBe('l');
    expect(await client.request('Hg0')).toBe('OK');
    expect(await client.request('Hc-1')).toBe('OK');
    expect(await client.request('T01')).toBe('OK');
    expect(await client.request('qTStatus')).toBe('');
    expect(await client.request('qSymbol::')).toBe('OK');
    expect(await client.request('vCont?')).toBe('vCont;c;C;s;S');
  });

  it('serves the target description through qXfer, in pieces', async () => {
    const { client } = await start(new FakeTarget());
    let xml = '';
    for (let off = 0; ; off += 0x100) {
      const r = await client.request(`qXfer:features:read:target.xml:${off.toString(16)},100`);
      xml += r.slice(1);
      if (r[0] === 'l') break;
      expect(r[0]).toBe('m');
    }
    expect(xml).toBe(I386_TARGET_XML);
    expect(await client.request('qXfer:features:read:other.xml:0,100')).toBe('E00');
  });

  it('reads and writes registers: g, G, p, P (i386 order, little endian)', async () => {
    const t = new FakeTarget();
    const { client } = await start(t);
    const g = await client.request('g');
    expect(g).toHaveLength(16 * 8);
    expect(g.slice(0, 24)).toBe('4433221188776655ccbbaa99');
    expect(g.slice(8 * 8, 8 * 10)).toBe('0010000002020000'); // eip, eflags
    expect(g.slice(8 * 10, 8 * 12)).toBe('0800000010000000'); // cs, ss
    expect(await client.request('p8')).toBe('00100000');
    expect(await client.request('p10')).toBe('x'.repeat(20)); // st0: unavailable
    expect(await client.request('p1f')).toBe('x'.repeat(8)); // fop
    expect(await client.request('p20')).toBe('11000000'); // cr0
    expect(await client.request('p24')).toBe('E01');
    expect(await client.request('P22=00301000')).toBe('OK'); // cr3
    expect(t.r.cr3).toBe(0x103000);
    expect(await client.request('P0=efbeadde')).toBe('OK');
    expect(t.r.eax).toBe(0xdeadbeef);
    const g2 = `78563412${g.slice(8)}`;
    expect(await client.request(`G${g2}`)).toBe('OK');
    expect(t.r.eax).toBe(0x12345678);
    expect(t.r.ecx).toBe(0x55667788);
    expect(await client.request('Pa=adde0000')).toBe('E01'); // cs: the CPU refuses it
    expect(t.r.cs).toBe(8);
    expect(await client.request('P10=00000000')).toBe('E01');
  });

  it('reads memory (partial reads, E14 when nothing is readable) and writes it with M and X', async () => {
    const t = new FakeTarget();
    const { client } = await start(t);
    expect(await client.request('m1000,4')).toBe('00010203');
    expect(await client.request('m2ffe,4')).toBe('feff'); // the last two readable bytes
    expect(await client.request('m4000,4')).toBe('E14');
    expect(await client.request('mzz,4')).toBe('E01');
    expect(await client.request('M1010,4:deadbeef')).toBe('OK');
    expect(await client.request('m1010,4')).toBe('deadbeef');
    expect(await client.request('M4000,1:00')).toBe('E14');
    expect(await client.request('M1010,2:00')).toBe('E01'); // length mismatch
    // X: binary, with `}`-escapes for $ # } *.
    const xBody = `X1020,4:${rspEscape('$#}*')}`;
    client.raw(`$${xBody}#${rspChecksum(xBody).toString(16).padStart(2, '0')}`);
    expect(await client.packet()).toBe('OK');
    expect(await client.request('m1020,4')).toBe('24237d2a');
    expect(await client.request('X1020,0:')).toBe('OK');
  });

  it('software breakpoints (Z0) stop with swbreak, hardware ones (Z1) with hwbreak; s steps one instruction', async () => {
    const t = new FakeTarget();
    const { client } = await start(t);
    await client.request('qSupported:swbreak+;hwbreak+');
    expect(await client.request('Z0,1010,1')).toBe('OK');
    expect(await client.request('Z0,1010,1')).toBe('OK'); // idempotent
    expect([...t.bps.keys()]).toEqual([0x1010]);
    expect(await client.request('c')).toBe('T05swbreak:;thread:01;');
    expect(t.r.eip).toBe(0x1010);
    expect(await client.request('s')).toBe('T05thread:01;');
    expect(t.r.eip).toBe(0x1011);
    expect(await client.request('vCont;s:1')).toBe('T05thread:01;');
    expect(t.r.eip).toBe(0x1012);
    expect(await client.request('z0,1010,1')).toBe('OK');
    expect(t.bps.size).toBe(0);
    expect(await client.request('Z1,1020,1')).toBe('OK');
    expect(await client.request('vCont;c')).toBe('T05hwbreak:;thread:01;');
    expect(t.r.eip).toBe(0x1020);
    expect(await client.request('?')).toBe('T05hwbreak:;thread:01;');
    expect(await client.request('z1,1020,1')).toBe('OK');
    expect(await client.request('s1030')).toBe('T05thread:01;'); // s ADDR: resume at ADDR
    expect(t.r.eip).toBe(0x1031);
  });

  it('does not send swbreak to a gdb that did not announce it', async () => {
    const { client } = await start(new FakeTarget());
    await client.request('qSupported:multiprocess+');
    await client.request('Z0,1008,1');
    expect(await client.request('c')).toBe('T05thread:01;');
  });

  it('watchpoints (Z2-Z4) report the address; z removes them', async () => {
    const t = new FakeTarget();
    const { client } = await start(t);
    expect(await client.request('Z2,2000,4')).toBe('OK');
    expect([...t.wps.values()]).toEqual([{ kind: 'write', addr: 0x2000, len: 4 }]);
    expect(await client.request('c')).toBe('T05watch:2000;thread:01;');
    expect(t.r.eip).toBe(0x1051);
    expect(await client.request('z2,2000,4')).toBe('OK');
    expect(t.wps.size).toBe(0);
    expect(await client.request('Z3,2000,4')).toBe('OK');
    expect(await client.request('Z4,2100,2')).toBe('OK');
    expect([...t.wps.values()].map((w) => w.kind)).toEqual(['read', 'access']);
    expect(await client.request('z3,2000,4')).toBe('OK');
    expect(await client.request('z4,2100,2')).toBe('OK');
    expect(t.wps.size).toBe(0);
  });

  it('reports the guest exit with W and ends the run', async () => {
    const t = new FakeTarget();
    const { client, done } = await start(t);
    expect(await client.request('c')).toBe('W55');
    await client.closedByPeer();
    const end = await done;
    expect(end.kind).toBe('exited');
    expect(end.kind === 'exited' ? end.event.outcome?.exitStatus : -1).toBe(0x55);
  });

  it('Ctrl-C (0x03) interrupts a running guest: requestStop, then T02', async () => {
    const t = new FakeTarget();
    t.spin = true;
    const { client } = await start(t);
    client.send('c');
    await new Promise((r) => setTimeout(r, 50));
    const before = t.conts;
    expect(before).toBeGreaterThan(1); // runs in slices while the socket is served
    client.raw('\x03');
    expect(await client.packet()).toBe('T02thread:01;');
    expect(t.requestStops).toBe(1);
    expect(await client.request('p8')).toBe('00100000');
    t.spin = false;
    expect(await client.request('c')).toBe('W55');
  });

  it('D detaches: OK, breakpoints removed, the guest runs to its end', async () => {
    const t = new FakeTarget();
    const { client, done } = await start(t);
    expect(await client.request('Z0,1010,1')).toBe('OK');
    expect(await client.request('Z2,2000,4')).toBe('OK');
    expect(await client.request('D')).toBe('OK');
    await client.closedByPeer();
    const end = await done;
    expect(end.kind).toBe('exited');
    expect(t.bps.size).toBe(0);
    expect(t.wps.size).toBe(0);
    expect(t.r.eip).toBe(0x1100);
  });

  it('k kills: the run ends at once', async () => {
    const t = new FakeTarget();
    t.spin = true;
    const { client, done } = await start(t);
    client.send('k');
    expect((await done).kind).toBe('killed');
    await client.closedByPeer();
  });

  it('without -S the guest runs at once; a connecting gdb stops it; a second gdb is turned away', async () => {
    const t = new FakeTarget();
    t.spin = true;
    const { stub, client } = await start(t, false);
    expect(await client.request('?')).toBe('T05thread:01;');
    const conts = t.conts;
    await new Promise((r) => setTimeout(r, 30));
    expect(t.conts).toBe(conts); // stopped
    const second = await RspClient.open(stub.port);
    await second.closedByPeer();
    expect(await client.request('qC')).toBe('QC01');
  });
});

// ---------------------------------------------------------------------- the real Debugger

describe('gdb stub on the real Debugger and Machine', () => {
  it('stops at a breakpoint with the fixture state, reads memory, interrupts a spinning guest, then lets it exit', async () => {
    const m = new Machine({ memMiB: 64, kernel: { path: FIXTURE, image: new Uint8Array(readFileSync(FIXTURE)) } });
    try {
      const stub = new GdbStub(new Debugger(m), { host: '127.0.0.1', port: 0, waitForDebugger: true, sliceNs: 5e6, pollEnded: () => m.runFor(0) });
      await stub.listen();
      const done = stub.run();
      const client = await RspClient.open(stub.port);
      open.push({ stub, client });
      await client.request('qSupported:swbreak+;hwbreak+');
      expect(await client.request('p8')).toBe(le32Hex(START));
      expect(await client.request(`Z0,${BP_HERE.toString(16)},1`)).toBe('OK');
      expect(await client.request('c')).toBe('T05swbreak:;thread:01;');
      const g = await client.request('g');
      expect(g.slice(0, 24)).toBe(le32Hex(0x11223344) + le32Hex(0x55667788) + le32Hex(0x99aabbcc));
      expect(g.slice(64, 72)).toBe(le32Hex(BP_HERE));
      expect(await client.request(`m${VALUE.toString(16)},10`)).toBe(le32Hex(0xcafebabe) + le32Hex(0x12345678) + le32Hex(0x9abcdef0) + le32Hex(0x0badf00d));
      expect(await client.request(`z0,${BP_HERE.toString(16)},1`)).toBe('OK');
      expect(await client.request('s')).toBe('T05thread:01;');
      expect(await client.request('p8')).toBe(le32Hex(BP_HERE + 1));
      // Make the guest spin, let it run, and interrupt it.
      expect(await client.request(`M${SPIN.toString(16)},4:01000000`)).toBe('OK');
      client.send('c');
      await new Promise((r) => setTimeout(r, 100));
      client.raw('\x03');
      expect(await client.packet()).toBe('T02thread:01;');
      const eip = parseLe32Hex(await client.request('p8'));
      expect([SPIN_CHECK, SPIN_CHECK + 7]).toContain(eip);
      expect(await client.request(`M${SPIN.toString(16)},4:00000000`)).toBe('OK');
      expect(await client.request('c')).toBe(`W${(0x55).toString(16)}`);
      const end = await done;
      expect(end.kind === 'exited' ? end.event.outcome?.exitStatus : -1).toBe((0x2a << 1) | 1);
    } finally {
      m.close();
    }
  });
});

// ---------------------------------------------------------------------- end to end with gdb

/** Debian's gdb, installed with apt-get when missing and possible; null when there is none. */
function findGdb(): string | null {
  const which = () => spawnSync('sh', ['-c', 'command -v gdb'], { encoding: 'utf8' }).stdout.trim() || null;
  let g = which();
  if (g) return g;
  if (process.getuid?.() !== 0 || !spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).stdout.trim()) return null;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'gdb'], { env, timeout: 180_000, stdio: 'ignore' });
  g = which();
  if (g) return g;
  spawnSync('apt-get', ['update', '-q'], { env, timeout: 120_000, stdio: 'ignore' });
  spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'gdb'], { env, timeout: 180_000, stdio: 'ignore' });
  return which();
}

/** Starts `ts86 run -S --gdb tcp:127.0.0.1:0 -k gdbtest.elf`; resolves with the port it listens on. */
async function startTs86(): Promise<{ port: number; exited: Promise<number | null>; stderr: () => string; kill: () => void }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'ts86.js'), 'run', '-S', '--gdb', 'tcp:127.0.0.1:0', '-k', FIXTURE, '-m', '64'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  const kill = (): void => { if (child.exitCode === null) child.kill('SIGKILL'); };
  for (let k = 0; k < 400 && !/gdb stub listening on tcp:[^:]*:\d+/.test(err) && child.exitCode === null; k++) await new Promise((r) => setTimeout(r, 25));
  const port = Number(/gdb stub listening on tcp:[^:]*:(\d+)/.exec(err)?.[1]);
  if (!(port > 0)) { kill(); throw new Error(`ts86 did not start its gdb stub:\n${err}`); }
  return { port, exited, stderr: () => err, kill };
}

describe('ts86 run -S --gdb, driven by gdb', () => {
  let gdb: string | null = null;
  beforeAll(() => { gdb = findGdb(); }, 420_000); // apt-get only when gdb is missing

  it('gdb breaks, reads registers and memory, steps, detaches; the guest then exits with its status', async (ctx) => {
    if (!gdb) { ctx.skip(); return; }
    const t = await startTs86();
    try {
      const r = spawnSync(gdb, ['-batch', '-nx',
        '-ex', 'set architecture i386', '-ex', `target remote 127.0.0.1:${t.port}`,
        '-ex', `break *0x${BP_HERE.toString(16)}`, '-ex', 'continue',
        '-ex', 'info registers eax eip', '-ex', `x/4xw 0x${VALUE.toString(16)}`,
        '-ex', 'stepi', '-ex', 'info registers eip', '-ex', 'detach'], { encoding: 'utf8', timeout: 30_000 });
      const out = r.stdout + r.stderr;
      expect(r.status, out).toBe(0);
      expect(out).toMatch(/Breakpoint 1, 0x0010002a in \?\? \(\)/);
      expect(out).toMatch(/eax\s+0x11223344\s+287454020/);
      expect(out).toMatch(/eip\s+0x10002a\s+0x10002a/);
      expect(out).toMatch(/0x101000:\s+0xcafebabe\s+0x12345678\s+0x9abcdef0\s+0x0badf00d/);
      expect(out).toMatch(/0x0010002b in \?\? \(\)\neip\s+0x10002b\s+0x10002b/);
      expect(out).toMatch(/\[Inferior 1 \(Remote target\) detached\]/);
      expect(await t.exited).toBe((0x2a << 1) | 1);
      expect(t.stderr()).toMatch(/gdb detached; the guest runs on/);
      expect(t.stderr()).toMatch(/session ended normally \(isa-debug-exit: guest wrote 0x2a; exit status 85\)/);
    } finally {
      t.kill();
    }
  });

  it('Ctrl-C in gdb interrupts the running guest (symbols from the unstripped ELF); continue runs it to its exit', async (ctx) => {
    if (!gdb) { ctx.skip(); return; }
    const t = await startTs86();
    try {
      const g = spawn(gdb, ['-batch', '-nx', FIXTURE, '-ex', `target remote 127.0.0.1:${t.port}`,
        '-ex', 'set var *(int *)&spin = 1', '-ex', 'echo continuing\\n', '-ex', 'continue', '-ex', 'info registers eip',
        '-ex', 'set var *(int *)&spin = 0', '-ex', 'continue'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      g.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      g.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      const gdbExit = new Promise<number | null>((res) => g.on('exit', (c) => res(c)));
      try {
        for (let k = 0; k < 400 && !/continuing/.test(out); k++) await new Promise((r) => setTimeout(r, 25));
        await new Promise((r) => setTimeout(r, 300)); // gdb is in `continue` by now: the guest spins
        g.kill('SIGINT'); // what Ctrl-C does: gdb sends 0x03
        expect(await gdbExit, out).toBe(0);
      } finally {
        if (g.exitCode === null) g.kill('SIGKILL');
      }
      expect(out).toMatch(/Program received signal SIGINT, Interrupt\.\n0x0010003[29] in spin_check \(\)/);
      expect(out).toMatch(/eip\s+0x10003[29]\s+0x10003[29] <spin_check(\+7)?>/);
      expect(out).toMatch(/\[Inferior 1 \(Remote target\) exited with code 0125\]/);
      expect(await t.exited).toBe((0x2a << 1) | 1);
    } finally {
      t.kill();
    }
  });
});
