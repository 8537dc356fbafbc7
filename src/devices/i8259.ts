// One Intel 8259A programmable interrupt controller (8259A datasheet, Intel 1988,
// "Programming the 8259A": ICW1-4, OCW1-3). The master/slave pair, the ELCR and
// the CPU connection live in pic-pair.ts.

export interface I8259State {
  irr: number;
  isr: number;
  imr: number;
  pins: number;
  edgeSeen: number;
  elcr: number;
  vectorBase: number;
  /** Index of the next ICW expected (0 = operational). */
  initStep: number;
  icw1: number;
  icw3: number;
  icw4: number;
  /** The IR level with the lowest priority (7 after ICW1; changed by rotation). */
  lowestPriority: number;
  readIsr: boolean;
  pollNext: boolean;
  specialMask: boolean;
  rotateOnAutoEoi: boolean;
}

export class I8259 {
  irr = 0;
  isr = 0;
  imr = 0;
  /** Current level of the IR0-7 input pins. */
  pins = 0;
  /** Edge detector: pins already seen high (edge mode needs low -> high). */
  edgeSeen = 0;
  /** Edge/Level Control Register (PIIX/EISA, ports 0x4d0/0x4d1): 1 = level. */
  elcr = 0;
  vectorBase = 0;
  initStep = 0;
  icw1 = 0;
  icw3 = 0;
  icw4 = 0;
  lowestPriority = 7;
  readIsr = false;
  pollNext = false;
  specialMask = false;
  rotateOnAutoEoi = false;

  constructor(
    readonly isMaster: boolean,
    /** Bits of ELCR that may be set (the rest are fixed edge, e.g. IRQ0-2). */
    readonly elcrMask: number,
  ) {}

  reset(): void {
    this.irr = this.isr = this.imr = 0;
    this.pins = this.edgeSeen = 0;
    this.elcr = 0;
    this.vectorBase = 0;
    this.initStep = 0;
    this.icw1 = this.icw3 = this.icw4 = 0;
    this.lowestPriority = 7;
    this.readIsr = this.pollNext = this.specialMask = this.rotateOnAutoEoi = false;
  }

  private get levelMode(): number {
    // ICW1.LTIM makes every input level-sensitive; otherwise the ELCR decides.
    // The master's cascade input follows the slave's INT output as a level (it is
    // re-derived after every access), so a request left on the slave after an
    // EOI re-asserts it without needing a fresh edge.
    return this.icw1 & 0x08 ? 0xff : this.elcr | (this.isMaster ? 0x04 : 0);
  }

  get autoEoi(): boolean {
    return (this.icw4 & 0x02) !== 0;
  }

  get specialFullyNested(): boolean {
    return (this.icw4 & 0x10) !== 0;
  }

  setInput(n: number, level: boolean): void {
    const bit = 1 << n;
    if (level) {
      this.pins |= bit;
      if (this.levelMode & bit) this.irr |= bit;
      else if (!(this.edgeSeen & bit)) this.irr |= bit; // rising edge latched in IRR
      this.edgeSeen |= bit;
    } else {
      this.pins &= ~bit;
      this.edgeSeen &= ~bit;
      // A level-sensitive request disappears with its input; an edge stays latched.
      if (this.levelMode & bit) this.irr &= ~bit;
    }
  }

  /** Priority rank of level `n`: 0 = highest. */
  private rank(n: number): number {
    return (n - this.lowestPriority - 1) & 7;
  }

  /** Highest-priority set bit of `mask`, or -1. */
  private highest(mask: number): number {
    for (let r = 0; r < 8; r++) {
      const n = (this.lowestPriority + 1 + r) & 7;
      if (mask & (1 << n)) return n;
    }
    return -1;
  }

  /**
   * The level that would be acknowledged next, or -1. A request must out-rank
   * every in-service level (fully nested mode). In special mask mode, masked
   * in-service levels do not inhibit (datasheet, OCW3 ESMM/SMM). In special fully
   * nested mode the master lets the cascade level interrupt itself so a slave's
   * higher-priority request gets through.
   */
  pendingLevel(): number {
    const req = this.irr & ~this.imr;
    const n = this.highest(req);
    if (n < 0) return -1;
    const inService = this.specialMask ? this.isr & ~this.imr : this.isr;
    const s = this.highest(inService);
    if (s < 0 || this.rank(n) < this.rank(s)) return n;
    if (n === s && this.isMaster && this.specialFullyNested && this.icw3 & (1 << n)) return n;
    return -1;
  }

  /** INTA: move `n` from IRR to ISR (or not, with AEOI). */
  acknowledge(n: number): void {
    const bit = 1 << n;
    if (!(this.levelMode & bit)) this.irr &= ~bit;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.lowestPriority = n;
    } else {
      this.isr |= bit;
    }
  }

  /** Port A0=0 (0x20/0xa0) write: ICW1, OCW2 or OCW3. */
  writeCommand(v: number): void {
    if (v & 0x10) {
      // ICW1 (datasheet: "Initialization Command Word 1"): clears IMR, sets IR7 as
      // lowest priority, leaves special mask mode, selects IRR for reads, resets the
      // edge sense circuit (an input must go low then high again to interrupt).
      this.icw1 = v;
      this.initStep = 2;
      this.imr = 0;
      this.isr = 0;
      this.irr = this.levelMode & this.pins;
      this.edgeSeen = this.pins;
      this.lowestPriority = 7;
      this.specialMask = false;
      this.readIsr = false;
      this.pollNext = false;
      this.rotateOnAutoEoi = false;
      if (!(v & 0x01)) this.icw4 = 0;
      return;
    }
    if (v & 0x08) {
      // OCW3
      if (v & 0x04) this.pollNext = true;
      if (v & 0x02) this.readIsr = (v & 0x01) !== 0;
      if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
      return;
    }
    // OCW2: R SL EOI in bits 7-5, level in bits 2-0.
    const level = v & 7;
    switch (v >> 5) {
      case 0b001: // non-specific EOI
      case 0b101: {
        // rotate on non-specific EOI
        const n = this.highest(this.specialMask ? this.isr & ~this.imr : this.isr);
        if (n >= 0) {
          this.isr &= ~(1 << n);
          if (v >> 5 === 0b101) this.lowestPriority = n;
        }
        break;
      }
      case 0b011: // specific EOI
        this.isr &= ~(1 << level);
        break;
      case 0b111: // rotate on specific EOI
        this.isr &= ~(1 << level);
        this.lowestPriority = level;
        break;
      case 0b110: // set priority: `level` becomes the lowest
        this.lowestPriority = level;
        break;
      case 0b100: // set rotate in AEOI mode
        this.rotateOnAutoEoi = true;
        break;
      case 0b000: // clear rotate in AEOI mode
        this.rotateOnAutoEoi = false;
        break;
      default: // 0b010: no operation
        break;
    }
  }

  /** Port A0=1 (0x21/0xa1) write: ICW2-4 during initialisation, else OCW1 (IMR). */
  writeData(v: number): void {
    switch (this.initStep) {
      case 2:
        this.vectorBase = v & 0xf8; // x86 mode: T7-T3, the level fills bits 2-0
        this.initStep = this.icw1 & 0x02 ? (this.icw1 & 0x01 ? 4 : 0) : 3;
        return;
      case 3:
        this.icw3 = v;
        this.initStep = this.icw1 & 0x01 ? 4 : 0;
        return;
      case 4:
        this.icw4 = v;
        this.initStep = 0;
        return;
      default:
        this.imr = v;
    }
  }

  /** Port A0=0 read: IRR or ISR as selected by OCW3 (poll handled by the pair). */
  readCommand(): number {
    return this.readIsr ? this.isr : this.irr;
  }

  readData(): number {
    return this.imr;
  }

  saveState(): I8259State {
    return {
      irr: this.irr, isr: this.isr, imr: this.imr, pins: this.pins, edgeSeen: this.edgeSeen, elcr: this.elcr,
      vectorBase: this.vectorBase, initStep: this.initStep, icw1: this.icw1, icw3: this.icw3, icw4: this.icw4,
      lowestPriority: this.lowestPriority, readIsr: this.readIsr, pollNext: this.pollNext,
      specialMask: this.specialMask, rotateOnAutoEoi: this.rotateOnAutoEoi,
    };
  }

  loadState(s: I8259State): void {
    Object.assign(this, s);
  }
}
