// Intel 8042 keyboard controller as found on the PC/AT (IBM PC/AT Technical
// Reference, "Keyboard Controller"; command set as documented in the Linux
// i8042 driver's i8042.h). Enough for Linux's probe: self test (0xAA -> 0x55),
// the command byte (0x20/0x60), interface tests, AUX loopback (0xD3), the output
// port (A20 on bit 1) and pulse-reset (0xFE). The attached keyboard answers the
// usual commands (reset 0xFF -> FA AA, identify 0xF2 -> FA AB 83, ...).

import type { AccessSize } from '../cpu/interfaces';
import type { A20Gate } from './a20';
import type { IoBus } from './bus';
import { checkState, type Device, type DeviceState } from './device';
import type { IrqLine } from './irq';

// Status register bits.
const ST_OBF = 0x01;
const ST_SYS = 0x04;
const ST_CMD = 0x08; // last write was to the command port
const ST_UNLOCKED = 0x10; // keyboard not inhibited
const ST_AUX_OBF = 0x20;
// Command byte bits.
const CB_KBD_INT = 0x01;
const CB_AUX_INT = 0x02;
const CB_SYS = 0x04;
const CB_KBD_DISABLE = 0x10;
const CB_AUX_DISABLE = 0x20;
const CB_XLATE = 0x40;

interface QueuedByte {
  byte: number;
  aux: boolean;
}

export interface I8042State extends DeviceState {
  device: 'i8042';
  version: 1;
  commandByte: number;
  outputPort: number;
  status: number;
  queue: QueuedByte[];
  pendingCommand: number;
  kbdPendingCommand: number;
  kbdEnabled: boolean;
  scancodeSet: number;
}

export class I8042 implements Device<I8042State> {
  readonly name = 'i8042';
  commandByte = 0;
  outputPort = 0;
  private status = 0;
  private queue: QueuedByte[] = [];
  /** Controller command awaiting a data byte on port 0x60 (0 = none). */
  private pendingCommand = 0;
  /** Keyboard command awaiting its argument (0 = none). */
  private kbdPendingCommand = 0;
  private kbdEnabled = true;
  private scancodeSet = 2;

  constructor(
    private readonly irq1: IrqLine,
    private readonly irq12: IrqLine,
    private readonly a20: A20Gate,
    /** Pulse-reset (0xFE) or output-port reset bit cleared: reset the machine. */
    private readonly onReset: () => void,
  ) {
    this.reset();
  }

  reset(): void {
    this.commandByte = CB_KBD_INT | CB_SYS | CB_XLATE;
    this.outputPort = 0x03; // A20 enabled, reset line inactive
    this.status = ST_SYS | ST_UNLOCKED;
    this.queue = [];
    this.pendingCommand = 0;
    this.kbdPendingCommand = 0;
    this.kbdEnabled = true;
    this.scancodeSet = 2;
    this.updateIrq();
  }

  attach(bus: IoBus): void {
    bus.registerPorts('i8042-data', 0x60, 1, {
      read: () => this.readData(),
      peek: () => this.queue[0]?.byte ?? 0,
      write: (_o, _s: AccessSize, v) => this.writeData(v),
    }, { sizes: 1 });
    bus.registerPorts('i8042-cmd', 0x64, 1, {
      read: () => this.statusByte(),
      peek: () => this.statusByte(),
      write: (_o, _s: AccessSize, v) => this.writeCommand(v),
    }, { sizes: 1 });
  }

  private statusByte(): number {
    let s = this.status & ~(ST_OBF | ST_AUX_OBF);
    if (this.queue.length) s |= ST_OBF | (this.queue[0]!.aux ? ST_AUX_OBF : 0);
    return s;
  }

  private push(byte: number, aux = false): void {
    this.queue.push({ byte: byte & 0xff, aux });
    this.updateIrq();
  }

  /** A scancode from the host keyboard (already in the guest-visible set). */
  keyboardInput(bytes: Iterable<number>): void {
    if (!this.kbdEnabled || this.commandByte & CB_KBD_DISABLE) return;
    for (const b of bytes) this.push(b);
  }

  updateIrq(): void {
    const head = this.queue[0];
    this.irq1.set(!!head && !head.aux && (this.commandByte & CB_KBD_INT) !== 0);
    this.irq12.set(!!head && head.aux && (this.commandByte & CB_AUX_INT) !== 0);
  }

  private readData(): number {
    const head = this.queue.shift();
    this.updateIrq();
    return head ? head.byte : 0;
  }

  private setOutputPort(v: number): void {
    this.outputPort = v;
    this.a20.set((v & 0x02) !== 0);
    if (!(v & 0x01)) this.onReset(); // bit 0 low asserts the CPU reset line
  }

  private writeCommand(v: number): void {
    this.status |= ST_CMD;
    switch (v) {
      case 0x20: // read command byte
        this.push(this.commandByte);
        break;
      case 0x60: // write command byte
      case 0xd1: // write output port
      case 0xd2: // write keyboard output buffer
      case 0xd3: // write aux output buffer (AUX loopback)
      case 0xd4: // write to aux device
        this.pendingCommand = v;
        break;
      case 0xa7: // disable aux
        this.commandByte |= CB_AUX_DISABLE;
        break;
      case 0xa8: // enable aux
        this.commandByte &= ~CB_AUX_DISABLE;
        break;
      case 0xa9: // aux interface test: 0 = ok
      case 0xab: // keyboard interface test: 0 = ok
        this.push(0x00);
        break;
      case 0xaa: // controller self test
        this.push(0x55);
        this.status |= ST_SYS;
        break;
      case 0xad: // disable keyboard
        this.commandByte |= CB_KBD_DISABLE;
        break;
      case 0xae: // enable keyboard
        this.commandByte &= ~CB_KBD_DISABLE;
        break;
      case 0xc0: // read input port: keyboard not inhibited, colour display
        this.push(0x80);
        break;
      case 0xd0: // read output port
        this.push(this.outputPort | (this.a20.enabled ? 2 : 0));
        break;
      case 0xdd: // disable A20 (HP Vectra extension, widely supported)
        this.a20.set(false);
        break;
      case 0xdf: // enable A20
        this.a20.set(true);
        break;
      default:
        // 0xF0-0xFF: pulse output port bits 0-3 low for 6 µs where the command's
        // bit is 0. Bit 0 is the CPU reset line, so 0xFE resets the machine.
        if (v >= 0xf0) {
          if (!(v & 1)) this.onReset();
        }
        break;
    }
    this.updateIrq();
  }

  private writeData(v: number): void {
    this.status &= ~ST_CMD;
    const cmd = this.pendingCommand;
    this.pendingCommand = 0;
    switch (cmd) {
      case 0x60:
        this.commandByte = v;
        this.status = (this.status & ~ST_SYS) | (v & CB_SYS ? ST_SYS : 0);
        break;
      case 0xd1:
        this.setOutputPort(v);
        break;
      case 0xd2:
        this.push(v);
        break;
      case 0xd3:
        this.push(v, true);
        break;
      case 0xd4:
        // No mouse is attached: answer like an absent device (Linux then skips AUX).
        this.push(0xfe, true);
        break;
      default:
        this.keyboardCommand(v);
    }
    this.updateIrq();
  }

  /** Bytes written to port 0x60 without a pending controller command go to the keyboard. */
  private keyboardCommand(v: number): void {
    const arg = this.kbdPendingCommand;
    if (arg) {
      this.kbdPendingCommand = 0;
      if (arg === 0xf0) {
        if (v === 0) {
          this.push(0xfa);
          this.push(this.scancodeSet);
          return;
        }
        if (v <= 3) this.scancodeSet = v;
      }
      this.push(0xfa);
      return;
    }
    // The controller re-enables the keyboard interface when sending to it.
    this.commandByte &= ~CB_KBD_DISABLE;
    switch (v) {
      case 0xff: // reset and self test
        this.kbdEnabled = true;
        this.scancodeSet = 2;
        this.push(0xfa);
        this.push(0xaa);
        break;
      case 0xf2: // identify: MF2 keyboard
        this.push(0xfa);
        this.push(0xab);
        this.push(0x83);
        break;
      case 0xee: // echo
        this.push(0xee);
        break;
      case 0xed: // set LEDs
      case 0xf0: // get/set scancode set
      case 0xf3: // typematic rate
        this.kbdPendingCommand = v;
        this.push(0xfa);
        break;
      case 0xf4: // enable scanning
        this.kbdEnabled = true;
        this.push(0xfa);
        break;
      case 0xf5: // disable scanning (and set defaults)
        this.kbdEnabled = false;
        this.push(0xfa);
        break;
      case 0xf6: // set defaults
        this.push(0xfa);
        break;
      default:
        this.push(0xfa);
    }
  }

  saveState(): I8042State {
    return {
      device: 'i8042', version: 1, commandByte: this.commandByte, outputPort: this.outputPort, status: this.status,
      queue: this.queue.map((q) => ({ ...q })), pendingCommand: this.pendingCommand,
      kbdPendingCommand: this.kbdPendingCommand, kbdEnabled: this.kbdEnabled, scancodeSet: this.scancodeSet,
    };
  }

  loadState(s: I8042State): void {
    checkState(s, 'i8042', 1);
    this.commandByte = s.commandByte;
    this.outputPort = s.outputPort;
    this.status = s.status;
    this.queue = s.queue.map((q) => ({ ...q }));
    this.pendingCommand = s.pendingCommand;
    this.kbdPendingCommand = s.kbdPendingCommand;
    this.kbdEnabled = s.kbdEnabled;
    this.scancodeSet = s.scancodeSet;
    this.updateIrq();
  }
}
