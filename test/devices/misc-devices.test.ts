import { describe, expect, it } from 'vitest';
import { A20Gate, SystemControlPortA } from '../../src/devices/a20';
import { IoBus } from '../../src/devices/bus';
import { BufferCharBackend } from '../../src/devices/chardev';
import { DebugConsole } from '../../src/devices/debug-console';
import { IsaDebugExit } from '../../src/devices/debug-exit';
import { FwCfg } from '../../src/devices/fw-cfg';
import { I8042 } from '../../src/devices/i8042';
import { IrqLine } from '../../src/devices/irq';
import { PciFunction, PciHost } from '../../src/devices/pci';
import { PostCodePort } from '../../src/devices/post-code';

describe('isa-debug-exit', () => {
  it('a write of v ends the run with status (v << 1) | 1', () => {
    const bus = new IoBus();
    const codes: number[] = [];
    new IsaDebugExit((s) => codes.push(s)).attach(bus);
    bus.ioWrite(0xf4, 1, 0x10);
    bus.ioWrite(0xf4, 4, 0);
    bus.ioWrite(0xf4, 2, 0x7f);
    expect(codes).toEqual([0x21, 1, 0xff]);
  });
});

describe('port 0xE9 and POST codes', () => {
  it('prints to the backend and records POST codes', () => {
    const bus = new IoBus();
    const chr = new BufferCharBackend();
    new DebugConsole(chr).attach(bus);
    const post = new PostCodePort();
    post.attach(bus);
    for (const c of 'ok\n') bus.ioWrite(0xe9, 1, c.charCodeAt(0));
    expect(chr.text).toBe('ok\n');
    expect(bus.ioRead(0xe9, 1)).toBe(0xe9);
    bus.ioWrite(0x80, 1, 0x12);
    bus.ioWrite(0x80, 1, 0x34);
    expect(post.history).toEqual([0x12, 0x34]);
    expect(bus.ioRead(0x80, 1)).toBe(0x34);
    expect(post.saveState()).toMatchObject({ device: 'post-code', version: 1, last: 0x34 });
  });
});

describe('A20 and port 0x92', () => {
  it('toggles A20 and fast-resets on bit 0', () => {
    const bus = new IoBus();
    const a20 = new A20Gate();
    const changes: boolean[] = [];
    a20.onChange = (e) => changes.push(e);
    let resets = 0;
    new SystemControlPortA(a20, () => resets++).attach(bus);
    expect(bus.ioRead(0x92, 1) & 2).toBe(2);
    bus.ioWrite(0x92, 1, 0);
    expect(a20.enabled).toBe(false);
    bus.ioWrite(0x92, 1, 2);
    expect(a20.enabled).toBe(true);
    expect(changes).toEqual([false, true]);
    bus.ioWrite(0x92, 1, 3);
    expect(resets).toBe(1);
  });
});

describe('i8042', () => {
  function setup() {
    const bus = new IoBus();
    const irq1 = new IrqLine();
    const irq12 = new IrqLine();
    const a20 = new A20Gate();
    let resets = 0;
    const kbc = new I8042(irq1, irq12, a20, () => resets++);
    kbc.attach(bus);
    const cmd = (v: number): void => bus.ioWrite(0x64, 1, v);
    const data = (): number => {
      expect(bus.ioRead(0x64, 1) & 1).toBe(1);
      return bus.ioRead(0x60, 1);
    };
    return { bus, irq1, irq12, a20, kbc, cmd, data, resets: () => resets };
  }

  it('passes the Linux probe: self test, command byte, interface tests, AUX loopback', () => {
    const { bus, cmd, data, irq1, irq12 } = setup();
    expect(bus.ioRead(0x64, 1) & 0x01).toBe(0);
    cmd(0xaa);
    expect(data()).toBe(0x55);
    cmd(0x20);
    expect(irq1.high).toBe(true); // OBF with the keyboard interrupt enabled
    const cb = data();
    expect(cb & 0x01).toBe(1);
    cmd(0x60);
    bus.ioWrite(0x60, 1, 0x47 | 0x02);
    cmd(0x20);
    expect(data()).toBe(0x47);
    cmd(0xab);
    expect(data()).toBe(0x00);
    cmd(0xa9);
    expect(data()).toBe(0x00);
    cmd(0xd3);
    bus.ioWrite(0x60, 1, 0x5a);
    expect(bus.ioRead(0x64, 1) & 0x21).toBe(0x21); // AUX data
    expect(irq12.high).toBe(true);
    expect(bus.ioRead(0x60, 1)).toBe(0x5a);
    expect(irq12.high).toBe(false);
  });

  it('keyboard commands answer and raise IRQ1', () => {
    const { bus, data, irq1 } = setup();
    bus.ioWrite(0x60, 1, 0xff);
    expect(irq1.high).toBe(true);
    expect([data(), data()]).toEqual([0xfa, 0xaa]);
    bus.ioWrite(0x60, 1, 0xf2);
    expect([data(), data(), data()]).toEqual([0xfa, 0xab, 0x83]);
    bus.ioWrite(0x60, 1, 0xf0);
    bus.ioWrite(0x60, 1, 0x00);
    expect([data(), data(), data()]).toEqual([0xfa, 0xfa, 0x02]);
    expect(irq1.high).toBe(false);
  });

  it('0xFE pulses reset; the output port drives A20', () => {
    const { bus, cmd, a20, resets, data } = setup();
    cmd(0xd1);
    bus.ioWrite(0x60, 1, 0x01);
    expect(a20.enabled).toBe(false);
    cmd(0xd0);
    expect(data() & 2).toBe(0);
    cmd(0xd1);
    bus.ioWrite(0x60, 1, 0x03);
    expect(a20.enabled).toBe(true);
    expect(resets()).toBe(0);
    cmd(0xfe);
    expect(resets()).toBe(1);
  });
});

describe('fw_cfg', () => {
  it('serves the signature, ID, CPU count and RAM size', () => {
    const bus = new IoBus();
    const fw = new FwCfg({ ramBytes: 0x12345678, cpus: 2 });
    fw.attach(bus);
    const item = (key: number, n: number): number[] => {
      bus.ioWrite(0x510, 2, key);
      return Array.from({ length: n }, () => bus.ioRead(0x511, 1));
    };
    expect(String.fromCharCode(...item(0, 4))).toBe('QEMU');
    expect(item(1, 4)).toEqual([1, 0, 0, 0]);
    expect(item(5, 2)).toEqual([2, 0]);
    expect(item(3, 8)).toEqual([0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0]);
    expect(item(0x7777, 2)).toEqual([0, 0]);
    const key = fw.addFile('etc/test', Uint8Array.of(9, 8, 7));
    const dir = item(0x19, 4 + 64);
    expect(dir.slice(0, 4)).toEqual([0, 0, 0, 1]);
    expect(dir.slice(4, 10)).toEqual([0, 0, 0, 3, 0, key]);
    expect(item(key, 3)).toEqual([9, 8, 7]);
  });
});

describe('PCI configuration mechanism #1', () => {
  it('finds the host bridge at 00:00.0 and nothing elsewhere', () => {
    const bus = new IoBus();
    const pci = new PciHost(bus);
    pci.attach(bus);
    bus.ioWrite(0xcf8, 4, 0x80000000);
    expect(bus.ioRead(0xcfc, 4)).toBe(0x12378086);
    expect(bus.ioRead(0xcfe, 2)).toBe(0x1237);
    bus.ioWrite(0xcf8, 4, 0x80000008);
    expect(bus.ioRead(0xcfc, 4) >>> 8).toBe(0x060000);
    expect(bus.ioRead(0xcf8, 4)).toBe(0x80000008);
    bus.ioWrite(0xcf8, 4, 0x80000800); // device 1
    expect(bus.ioRead(0xcfc, 4)).toBe(0xffffffff);
    bus.ioWrite(0xcf8, 4, 0x00000000); // enable bit clear
    expect(bus.ioRead(0xcfc, 4)).toBe(0xffffffff);
  });

  it('sizes and maps BARs when the command register enables them', () => {
    const bus = new IoBus();
    const pci = new PciHost(bus);
    pci.attach(bus);
    const fn = new PciFunction('test', 0, 3, 0, { vendor: 0x1af4, device: 0x1000, classCode: 0x020000 });
    fn.addBar(0, { kind: 'io', size: 32, handler: { read: (o) => 0x40 + o, write: () => {} } });
    fn.addBar(1, { kind: 'mem32', size: 0x1000, handler: { read: () => 0xabcd, write: () => {} } });
    pci.register(fn);
    const cfg = (reg: number, v?: number): number => {
      bus.ioWrite(0xcf8, 4, 0x80000000 | (3 << 11) | reg);
      if (v !== undefined) bus.ioWrite(0xcfc, 4, v);
      return bus.ioRead(0xcfc, 4);
    };
    expect(cfg(0x10, 0xffffffff)).toBe(0xffffffe1);
    expect(cfg(0x14, 0xffffffff)).toBe(0xfffff000);
    cfg(0x10, 0xc000);
    cfg(0x14, 0xfebf0000);
    expect(bus.ioRead(0xc001, 1)).toBe(0xff); // not enabled yet
    cfg(0x04, 0x3);
    expect(bus.ioRead(0xc001, 1)).toBe(0x41);
    expect(bus.mmioRead(0xfebf0000, 2)).toBe(0xabcd);
    cfg(0x10, 0xd000);
    expect(bus.ioRead(0xc001, 1)).toBe(0xff);
    expect(bus.ioRead(0xd001, 1)).toBe(0x41);
  });
});
