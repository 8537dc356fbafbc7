// Transport-independent virtio state (virtio 1.x §2, §3.1): device status, feature
// negotiation, the queues, the ISR and the interrupt line, reset and the
// NEEDS_RESET stop on guest errors. The PCI register files (pci-modern.ts,
// pci-legacy.ts) are views over this.

import type { IrqLine } from '../irq';
import {
  F_EVENT_IDX, F_INDIRECT_DESC, F_VERSION_1, ISR_CONFIG, ISR_QUEUE, STATUS_DRIVER_OK, STATUS_FAILED,
  STATUS_FEATURES_OK, STATUS_NEEDS_RESET, featureBit, hasFeature,
} from './constants';
import type { VirtioContext, VirtioDevice, VirtioTransportPort } from './device';
import { VirtioGuestError } from './guest-ram';
import { SplitVirtqueue } from './virtqueue';

export class VirtioTransport implements VirtioTransportPort {
  readonly queues: SplitVirtqueue[];
  status = 0;
  isr = 0;
  driverFeatures = 0;
  /** Bumped whenever the device config changes (§2.5.1 config_generation). */
  configGeneration = 0;
  /** The driver last spoke through the legacy interface (no VERSION_1, PFN queues). */
  legacy = false;
  /** INTx masked by the PCI command register's Interrupt Disable bit. */
  intxDisabled = false;
  /** Set when the device stopped on a guest error; cleared by reset. */
  failure: string | null = null;
  /** Called when the interrupt status changes (PCI status bit 3). */
  onIrqLevel: (level: boolean) => void = () => {};

  constructor(
    readonly device: VirtioDevice,
    private readonly ctx: VirtioContext,
    /**
     * Where the interrupt goes: an IrqLine to the PIC by default. A KVM backend can hand
     * an IrqLine whose sink writes an irqfd instead (src/devices/virtio/README.md).
     */
    readonly irq: IrqLine,
  ) {
    this.queues = Array.from({ length: device.numQueues }, (_, i) => new SplitVirtqueue(ctx.ram, i, device.queueMaxSize));
    device.attach(this);
  }

  /** Every feature the device offers through the interface in use. */
  get deviceFeatures(): number {
    const ring = featureBit(F_INDIRECT_DESC) + featureBit(F_EVENT_IDX);
    return this.device.features + ring + (this.legacy ? 0 : featureBit(F_VERSION_1));
  }

  get live(): boolean {
    return (this.status & STATUS_DRIVER_OK) !== 0 && this.failure === null;
  }

  queue(index: number): SplitVirtqueue {
    const q = this.queues[index];
    if (!q) throw new Error(`${this.device.name}: no queue ${index}`);
    return q;
  }

  reset(): void {
    this.status = 0;
    this.isr = 0;
    this.driverFeatures = 0;
    this.failure = null;
    for (const q of this.queues) q.reset();
    this.device.reset();
    this.updateIrq();
  }

  /** A driver write of the status register (§3.1.1, §2.1.2). */
  writeStatus(v: number): void {
    v &= 0xff;
    if (v === 0) { this.reset(); return; }
    const was = this.status;
    let next = v | (was & STATUS_NEEDS_RESET);
    if (next & STATUS_FEATURES_OK && !(was & STATUS_FEATURES_OK) && !this.featuresAcceptable()) next &= ~STATUS_FEATURES_OK;
    this.status = next;
    if (next & STATUS_DRIVER_OK && !(was & STATUS_DRIVER_OK) && !(next & STATUS_FAILED)) {
      this.applyRingFeatures();
      this.device.activate(this.driverFeatures);
      // Chains made available before DRIVER_OK are served now (§3.1.1 step 8).
      for (const q of this.queues) if (q.hasWork()) this.notify(q.index);
    }
  }

  /** Accept only features the device offers; the modern interface requires VERSION_1 (§6.1). */
  private featuresAcceptable(): boolean {
    const offered = this.deviceFeatures;
    for (let bit = 0; bit < 64; bit++) if (hasFeature(this.driverFeatures, bit) && !hasFeature(offered, bit)) return false;
    return this.legacy || hasFeature(this.driverFeatures, F_VERSION_1);
  }

  applyRingFeatures(): void {
    for (const q of this.queues) {
      q.eventIdx = hasFeature(this.driverFeatures, F_EVENT_IDX);
      q.indirect = hasFeature(this.driverFeatures, F_INDIRECT_DESC);
    }
  }

  /** Enables queue `q` with the layout the driver wrote; a bad layout stops the device. */
  enableQueue(q: SplitVirtqueue): void {
    this.applyRingFeatures();
    try {
      q.enable();
    } catch (e) {
      if (!(e instanceof VirtioGuestError)) throw e;
      this.fail(e.message);
    }
  }

  /**
   * The driver notified queue `index` (a register write, or an ioeventfd a KVM backend
   * watches: this is the one entry point either way).
   */
  notify(index: number): void {
    if (!this.live || index >= this.queues.length || !this.queues[index]!.ready) return;
    try {
      this.device.queueNotify(index);
    } catch (e) {
      if (!(e instanceof VirtioGuestError)) throw e;
      this.fail(e.message);
    }
  }

  signalUsed(q: SplitVirtqueue): void {
    if (!q.shouldInterrupt()) return;
    this.isr |= ISR_QUEUE;
    this.updateIrq();
  }

  /** Reading the ISR returns it and clears it, lowering INTx (§4.1.4.5.1). */
  readIsr(): number {
    const v = this.isr;
    this.isr = 0;
    this.updateIrq();
    return v;
  }

  fail(message: string): void {
    if (this.failure !== null) return;
    this.failure = message;
    // §2.1.2: set DEVICE_NEEDS_RESET and send a configuration change notification.
    this.status |= STATUS_NEEDS_RESET;
    this.isr |= ISR_CONFIG;
    this.updateIrq();
    this.ctx.report(`${this.device.name}: guest error, device stopped (NEEDS_RESET): ${message}`);
  }

  updateIrq(): void {
    const level = this.isr !== 0;
    this.onIrqLevel(level);
    this.irq.set(level && !this.intxDisabled);
  }
}
