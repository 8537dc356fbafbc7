// The exit handler is a plain function over an exit value: fed synthetic exits here,
// no KVM needed. It must reach the same bus handlers the interpreter calls.
import { describe, expect, it } from 'vitest';
import { ExitAction, ExitKind, exitMessage, handleExit, newExit } from '../../src/accel/exit';
import { IoBus } from '../../src/devices/bus';
import { decodeExit } from '../../src/accel/kvm/vm';
import { EXIT, RUN } from '../../src/accel/kvm/abi';

function busWithLog(): { bus: IoBus; log: string[] } {
  const bus = new IoBus();
  const log: string[] = [];
  let reg = 0x1234;
  bus.registerPorts('dev', 0x3f8, 8, {
    read: (off, size) => { log.push(`r${off}/${size}`); return off === 0 ? 0x41 : reg; },
    write: (off, size, v) => { log.push(`w${off}/${size}=${v.toString(16)}`); reg = v; },
  });
  bus.registerMmio('mm', 0xfee00000, 0x1000, {
    read: (off, size) => { log.push(`mr${off.toString(16)}/${size}`); return off === 0x30 ? 0x50014 : 0xaabbccdd; },
    write: (off, size, v) => { log.push(`mw${off.toString(16)}/${size}=${v.toString(16)}`); },
  });
  return { bus, log };
}

describe('handleExit', () => {
  it('port OUT: the value in data reaches the device, little-endian', () => {
    const { bus, log } = busWithLog();
    const x = newExit(ExitKind.Io);
    Object.assign(x, { port: 0x3fa, size: 2, count: 1, write: true, data: new Uint8Array([0x34, 0x12]) });
    expect(handleExit(x, bus)).toBe(ExitAction.Resume);
    expect(log).toEqual(['w2/2=1234']);
  });

  it('port IN: the device value lands in data for the vCPU to pick up', () => {
    const { bus } = busWithLog();
    const x = newExit(ExitKind.Io);
    Object.assign(x, { port: 0x3f8, size: 1, count: 1, write: false, data: new Uint8Array(1) });
    handleExit(x, bus);
    expect(x.data[0]).toBe(0x41);
  });

  it('string I/O (REP INSB) arrives as count accesses in one exit, in order', () => {
    const { bus, log } = busWithLog();
    const x = newExit(ExitKind.Io);
    Object.assign(x, { port: 0x3f8, size: 1, count: 3, write: false, data: new Uint8Array(3) });
    handleExit(x, bus);
    expect([...x.data]).toEqual([0x41, 0x41, 0x41]);
    expect(log).toEqual(['r0/1', 'r0/1', 'r0/1']);
  });

  it('an unclaimed port reads all-ones, as in the interpreter', () => {
    const { bus } = busWithLog();
    const x = newExit(ExitKind.Io);
    Object.assign(x, { port: 0x100, size: 4, count: 1, write: false, data: new Uint8Array(4) });
    handleExit(x, bus);
    expect([...x.data]).toEqual([0xff, 0xff, 0xff, 0xff]);
  });

  it('I/O of an impossible size is a guest error, not a crash', () => {
    const { bus } = busWithLog();
    const x = newExit(ExitKind.Io);
    Object.assign(x, { port: 0x3f8, size: 3, count: 1, write: true, data: new Uint8Array(3) });
    expect(handleExit(x, bus)).toBe(ExitAction.GuestError);
    expect(exitMessage(x)).toMatch(/unsupported size 3/);
  });

  it('MMIO read and write go to the MMIO handler; 8-byte accesses split into two dwords', () => {
    const { bus, log } = busWithLog();
    const r = newExit(ExitKind.Mmio);
    Object.assign(r, { addr: 0xfee00030, size: 4, write: false, data: new Uint8Array(8) });
    handleExit(r, bus);
    expect(new DataView(r.data.buffer).getUint32(0, true)).toBe(0x50014);
    const w = newExit(ExitKind.Mmio);
    Object.assign(w, { addr: 0xfee00080, size: 8, write: true, data: new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0]) });
    handleExit(w, bus);
    expect(log).toEqual(['mr30/4', 'mw80/4=1', 'mw84/4=2']);
  });

  it('maps the other exits to run-loop actions', () => {
    const { bus } = busWithLog();
    const kinds: [ExitKind, ExitAction][] = [
      [ExitKind.Halt, ExitAction.Halted], [ExitKind.IrqWindow, ExitAction.Poll], [ExitKind.Kick, ExitAction.Poll],
      [ExitKind.Debug, ExitAction.Debug], [ExitKind.Shutdown, ExitAction.Shutdown], [ExitKind.InternalError, ExitAction.GuestError],
      [ExitKind.FailEntry, ExitAction.GuestError], [ExitKind.Unknown, ExitAction.GuestError],
    ];
    for (const [k, a] of kinds) expect(handleExit(newExit(k), bus)).toBe(a);
    const ie = newExit(ExitKind.InternalError);
    ie.code = 1; ie.detail = [0x1, 0xcf];
    expect(exitMessage(ie)).toBe('KVM internal error (suberror 1, data 0x1 0xcf): KVM could not emulate an instruction or deliver an event');
  });
});

describe('decodeExit (struct kvm_run)', () => {
  const area = () => { const b = new Uint8Array(4096); return { b, v: new DataView(b.buffer) }; };

  it('decodes an IO exit whose data lies in the run area', () => {
    const { b, v } = area();
    v.setUint32(RUN.EXIT_REASON, EXIT.IO, true);
    v.setUint8(RUN.IO_DIRECTION, 1); v.setUint8(RUN.IO_SIZE, 1); v.setUint16(RUN.IO_PORT, 0xf4, true);
    v.setUint32(RUN.IO_COUNT, 1, true); v.setBigUint64(RUN.IO_DATA_OFFSET, 4096n - 16n, true);
    b[4096 - 16] = 0x21;
    const x = newExit();
    decodeExit(v, b, x);
    expect(x.kind).toBe(ExitKind.Io);
    expect([x.port, x.size, x.count, x.write, x.data[0]]).toEqual([0xf4, 1, 1, true, 0x21]);
  });

  it('an IO exit whose data offset points outside the run area is rejected (never read out of bounds)', () => {
    const { b, v } = area();
    v.setUint32(RUN.EXIT_REASON, EXIT.IO, true);
    v.setUint8(RUN.IO_SIZE, 4); v.setUint32(RUN.IO_COUNT, 2, true); v.setBigUint64(RUN.IO_DATA_OFFSET, 4090n, true);
    const x = newExit();
    decodeExit(v, b, x);
    expect(x.kind).toBe(ExitKind.Unknown);
  });

  it('decodes MMIO, internal error and unknown reasons', () => {
    const { b, v } = area();
    v.setUint32(RUN.EXIT_REASON, EXIT.MMIO, true);
    v.setBigUint64(RUN.MMIO_PHYS_ADDR, 0xfee000b0n, true); v.setUint32(RUN.MMIO_LEN, 4, true); v.setUint8(RUN.MMIO_IS_WRITE, 1);
    const x = newExit();
    decodeExit(v, b, x);
    expect([x.kind, x.addr, x.size, x.write]).toEqual([ExitKind.Mmio, 0xfee000b0, 4, true]);
    v.setUint32(RUN.EXIT_REASON, EXIT.INTERNAL_ERROR, true);
    v.setUint32(RUN.INTERNAL_SUBERROR, 1, true); v.setUint32(RUN.INTERNAL_NDATA, 99, true);
    decodeExit(v, b, x);
    expect(x.kind).toBe(ExitKind.InternalError);
    expect(x.detail.length).toBe(16); // ndata is clamped to the array's size
    v.setUint32(RUN.EXIT_REASON, 1234, true);
    decodeExit(v, b, x);
    expect([x.kind, x.code]).toEqual([ExitKind.Unknown, 1234]);
  });
});
