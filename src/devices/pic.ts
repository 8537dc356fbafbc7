// The PC/AT pair of 8259A PICs: master at 0x20/0x21 (IRQ0-7), slave at 0xa0/0xa1
// (IRQ8-15) cascaded into master IR2, plus the PIIX Edge/Level Control Registers
// at 0x4d0/0x4d1. The master's INT output is the CPU's INTR (through the local
// APIC's LINT0 when one is present, see interrupt-line.ts).

import type { AccessSize } from '../cpu/interfaces';
import { checkState, type Device, type DeviceState } from './device';
import { I8259, type I8259State } from './i8259';
import type { IoBus } from './bus';
import { IrqLine, type IrqController } from './irq';

const CASCADE = 2;

export interface PicState extends DeviceState {
  device: 'i8259-pair';
  version: 1;
  master: I8259State;
  slave: I8259State;
}

export class PicPair implements IrqController, Device<PicState> {
  readonly name = 'i8259-pair';
  // ELCR: IRQ0, 1, 2, 8 and 13 are edge-only on the PIIX (82371AB datasheet, ELCR1/2).
  readonly master = new I8259(true, 0xf8);
  readonly slave = new I8259(false, 0xde);
  private intrLevel = false;
  /** Called when the master's INT output changes (wakes a halted vCPU, KVM injection). */
  onIntrChange: ((level: boolean) => void) | undefined;

  constructor() {
    this.reset();
  }

  reset(): void {
    this.master.reset();
    this.slave.reset();
    this.intrLevel = false;
    this.updateIrq();
  }

  attach(bus: IoBus): void {
    bus.registerPorts('pic-master', 0x20, 2, this.chipHandler(this.master), { sizes: 1 });
    bus.registerPorts('pic-slave', 0xa0, 2, this.chipHandler(this.slave), { sizes: 1 });
    bus.registerPorts('pic-elcr', 0x4d0, 2, {
      read: (off) => (off === 0 ? this.master.elcr : this.slave.elcr),
      peek: (off) => (off === 0 ? this.master.elcr : this.slave.elcr),
      write: (off, _s: AccessSize, v) => {
        const chip = off === 0 ? this.master : this.slave;
        chip.elcr = v & chip.elcrMask;
        this.refreshLevels(chip);
        this.updateIrq();
      },
    }, { sizes: 1 });
  }

  /** An IRQ line for ISA IRQ `n` (0-15). */
  irqLine(n: number): IrqLine {
    return new IrqLine((level) => this.setIrq(n, level), `irq${n}`);
  }

  setIrq(n: number, level: boolean): void {
    if (n < 0 || n > 15) throw new Error(`PIC: bad IRQ ${n}`);
    if (n < 8) this.master.setInput(n, level);
    else this.slave.setInput(n - 8, level);
    this.updateIrq();
  }

  /** The master's INT output. */
  get intr(): boolean {
    return this.intrLevel;
  }

  /** Re-evaluate cascade and INT outputs; called after every register access. */
  updateIrq(): void {
    this.master.setInput(CASCADE, this.slave.pendingLevel() >= 0);
    const level = this.master.pendingLevel() >= 0;
    if (level !== this.intrLevel) {
      this.intrLevel = level;
      this.onIntrChange?.(level);
    }
  }

  /**
   * The INTA cycle: the vector of the highest-priority request. With no request
   * left (it went away before INTA) the 8259A answers IR7 without setting ISR —
   * the "spurious IRQ7/IRQ15" the datasheet describes.
   */
  acknowledge(): number {
    const n = this.master.pendingLevel();
    let vector: number;
    if (n < 0) {
      vector = this.master.vectorBase | 7;
    } else {
      this.master.acknowledge(n);
      if (n === CASCADE && this.master.icw3 & (1 << CASCADE)) {
        const s = this.slave.pendingLevel();
        if (s < 0) vector = this.slave.vectorBase | 7;
        else {
          this.slave.acknowledge(s);
          vector = this.slave.vectorBase | s;
        }
        // The slave's INT drops during INTA; a further request makes a new edge.
        this.master.setInput(CASCADE, false);
      } else {
        vector = this.master.vectorBase | n;
      }
    }
    this.updateIrq();
    return vector;
  }

  private refreshLevels(chip: I8259): void {
    // Re-derive IRR for inputs that just became level-triggered.
    const level = chip.icw1 & 0x08 ? 0xff : chip.elcr | (chip.isMaster ? 0x04 : 0);
    chip.irr = (chip.irr & ~level) | (chip.pins & level);
  }

  /**
   * Poll command (OCW3 P=1): the next read of the command port returns
   * I000 0W2W1W0 and counts as the INTA for this chip (datasheet, "Poll Command").
   */
  private pollRead(chip: I8259): number {
    chip.pollNext = false;
    const n = chip.pendingLevel();
    if (n < 0) return 0;
    chip.acknowledge(n);
    if (chip === this.master && n === CASCADE) this.master.setInput(CASCADE, false);
    return 0x80 | n;
  }

  private chipHandler(chip: I8259) {
    return {
      read: (off: number): number => {
        let v: number;
        if (chip.pollNext) v = this.pollRead(chip);
        else v = off === 0 ? chip.readCommand() : chip.readData();
        this.updateIrq();
        return v;
      },
      peek: (off: number): number => (off === 0 ? chip.readCommand() : chip.readData()),
      write: (off: number, _size: AccessSize, v: number): void => {
        if (off === 0) chip.writeCommand(v);
        else chip.writeData(v);
        this.updateIrq();
      },
    };
  }

  saveState(): PicState {
    return { device: 'i8259-pair', version: 1, master: this.master.saveState(), slave: this.slave.saveState() };
  }

  loadState(s: PicState): void {
    checkState(s, 'i8259-pair', 1);
    this.master.loadState(s.master);
    this.slave.loadState(s.slave);
    this.intrLevel = this.master.pendingLevel() >= 0;
  }
}
