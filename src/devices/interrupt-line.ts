// The CPU's INTR/INTA as one object over the 8259 pair and the local APIC: the
// APIC's own fixed interrupts come first; the PIC's INTR passes through while the
// APIC is disabled or LVT LINT0 is an unmasked ExtINT entry (virtual wire mode,
// MultiProcessor Specification 1.4 §3.6.2.2), in which case the PIC answers INTA.

import type { InterruptLine } from '../cpu/interfaces';
import type { LocalApic } from './local-apic';
import type { PicPair } from './pic';

export class CpuInterruptLine implements InterruptLine {
  constructor(
    private readonly pic: PicPair,
    private readonly apic: LocalApic | null = null,
  ) {}

  private picVisible(): boolean {
    return this.pic.intr && (this.apic === null || this.apic.picPassthrough());
  }

  pending(): boolean {
    return (this.apic !== null && this.apic.hasInterrupt()) || this.picVisible();
  }

  ack(): number {
    if (this.apic && this.apic.hasInterrupt()) return this.apic.acknowledge();
    return this.pic.acknowledge();
  }
}
