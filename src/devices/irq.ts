/**
 * One interrupt request line from a device to an interrupt controller input.
 * Devices compute their output level in `updateIrq()` and call `set(level)`;
 * the line forwards only changes, so edge-triggered inputs see real edges.
 */
export class IrqLine {
  private level = false;

  constructor(
    private readonly sink: (level: boolean) => void = () => {},
    readonly name = 'irq',
  ) {}

  get high(): boolean {
    return this.level;
  }

  set(level: boolean): void {
    if (level === this.level) return;
    this.level = level;
    this.sink(level);
  }

  raise(): void {
    this.set(true);
  }

  lower(): void {
    this.set(false);
  }

  /** A rising then falling edge (for edge-triggered inputs). */
  pulse(): void {
    this.set(true);
    this.set(false);
  }
}

/** Something with numbered interrupt inputs (the PIC pair, an I/O APIC). */
export interface IrqController {
  setIrq(n: number, level: boolean): void;
}

export function irqLineTo(ctrl: IrqController, n: number): IrqLine {
  return new IrqLine((level) => ctrl.setIrq(n, level), `irq${n}`);
}
