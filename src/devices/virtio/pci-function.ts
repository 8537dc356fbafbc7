// A transitional virtio PCI function (virtio 1.x §4.1.2): device id 0x1000 + type - 1,
// subsystem id = type, revision 0; BAR0 = the legacy I/O interface, BAR1 = the modern
// memory BAR, and the vendor capabilities (§4.1.4) that point into it, including the
// VIRTIO_PCI_CAP_PCI_CFG access window (§4.1.4.9). INTx on pin A.

import type { AccessSize } from '../../cpu/interfaces';
import { checkState, type Device, type DeviceState } from '../device';
import { PciFunction } from '../pci';
import {
  PCI_CAP_COMMON_CFG, PCI_CAP_DEVICE_CFG, PCI_CAP_ISR_CFG, PCI_CAP_NOTIFY_CFG, PCI_CAP_PCI_CFG,
  PCI_TRANSITIONAL_ID, PCI_VENDOR_VIRTIO,
} from './constants';
import { LegacyRegisters, legacyBarSize } from './pci-legacy';
import {
  COMMON_LEN, COMMON_OFF, DEVICE_OFF, ISR_OFF, MODERN_BAR_SIZE, ModernRegisters, NOTIFY_MULTIPLIER, NOTIFY_OFF,
} from './pci-modern';
import type { VirtioTransport } from './transport';
import type { VirtqueueState } from './virtqueue';

export const LEGACY_BAR = 0, MODERN_BAR = 1;
const CAP_VENDOR = 0x09;
const CAP_START = 0x40;
/** Offset of the VIRTIO_PCI_CAP_PCI_CFG capability (its window follows the others). */
const PCI_CFG_CAP = 0x84;
const PCI_COMMAND_INTX_DISABLE = 0x400;

const CLASS_CODES: Record<number, number> = { 2: 0x010000, 3: 0x078000, 4: 0xff0000 };

export class VirtioPciFunction extends PciFunction {
  readonly modern: ModernRegisters;
  readonly legacy: LegacyRegisters;

  constructor(readonly transport: VirtioTransport, device: number, irqNumber: number) {
    const type = transport.device.deviceId;
    const id = PCI_TRANSITIONAL_ID[type];
    if (id === undefined) throw new Error(`virtio: no transitional PCI id for device type ${type}`);
    super(`virtio-${transport.device.name}`, 0, device, 0, { vendor: PCI_VENDOR_VIRTIO, device: id, classCode: CLASS_CODES[type] ?? 0xff0000, revision: 0 });
    this.modern = new ModernRegisters(transport);
    this.legacy = new LegacyRegisters(transport);
    const dv = this.dv;
    dv.setUint16(0x2c, PCI_VENDOR_VIRTIO, true);
    dv.setUint16(0x2e, type, true);
    this.config[0x3c] = irqNumber;
    this.config[0x3d] = 1; // INTA#
    this.addBar(LEGACY_BAR, { kind: 'io', size: legacyBarSize(transport.device.config.length), handler: this.legacy });
    this.addBar(MODERN_BAR, { kind: 'mem32', size: MODERN_BAR_SIZE, handler: this.modern });
    // Capabilities list (PCI 3.0 §6.7): status bit 4 and the pointer at 0x34.
    dv.setUint16(0x06, 0x0010, true);
    this.config[0x34] = CAP_START;
    const caps: [number, number, number, number][] = [
      [PCI_CAP_COMMON_CFG, COMMON_OFF, COMMON_LEN, 16],
      [PCI_CAP_ISR_CFG, ISR_OFF, 4, 16],
      [PCI_CAP_DEVICE_CFG, DEVICE_OFF, Math.max(4, transport.device.config.length), 16],
      [PCI_CAP_NOTIFY_CFG, NOTIFY_OFF, NOTIFY_MULTIPLIER * transport.queues.length, 20],
    ];
    let at = CAP_START;
    for (const [type_, offset, length, capLen] of caps) {
      this.writeCap(at, type_, capLen, MODERN_BAR, offset, length, at + capLen);
      if (type_ === PCI_CAP_NOTIFY_CFG) dv.setUint32(at + 16, NOTIFY_MULTIPLIER, true);
      at += capLen;
    }
    // at is now PCI_CFG_CAP (0x40 + 3*16 + 20 = 0x84): the window's bar/offset/length/data are writable.
    this.writeCap(PCI_CFG_CAP, PCI_CAP_PCI_CFG, 20, 0, 0, 0, 0);
    this.wmask[PCI_CFG_CAP + 4] = 0xff;
    for (let i = 8; i < 20; i++) this.wmask[PCI_CFG_CAP + i] = 0xff;
    // The INTx Disable command bit (0x400) masks the interrupt (PCI 3.0 §6.2.2).
    transport.onIrqLevel = (level) => { this.config[0x06] = (this.config[0x06]! & ~0x08) | (level ? 0x08 : 0); };
  }

  private writeCap(at: number, type: number, len: number, bar: number, offset: number, length: number, next: number): void {
    this.config[at] = CAP_VENDOR;
    this.config[at + 1] = next;
    this.config[at + 2] = len;
    this.config[at + 3] = type;
    this.config[at + 4] = bar;
    this.dv.setUint32(at + 8, offset, true);
    this.dv.setUint32(at + 12, length, true);
  }

  override readConfig(off: number, size: AccessSize): number {
    if (off >= PCI_CFG_CAP + 16 && off < PCI_CFG_CAP + 20) return this.windowAccess(off, size, null);
    return super.readConfig(off, size);
  }

  override writeConfig(off: number, size: AccessSize, value: number): void {
    if (off >= PCI_CFG_CAP + 16 && off < PCI_CFG_CAP + 20) { this.windowAccess(off, size, value); return; }
    super.writeConfig(off, size, value);
    if (off <= 0x05 && off + size > 0x05) {
      this.transport.intxDisabled = (this.dv.getUint16(0x04, true) & PCI_COMMAND_INTX_DISABLE) !== 0;
      this.transport.updateIrq();
    }
  }

  /**
   * VIRTIO_PCI_CAP_PCI_CFG (§4.1.4.9): an access to pci_cfg_data reaches BAR `bar` at
   * `offset` with the width in `length` (1, 2 or 4); anything else reads 0 / is dropped.
   */
  private windowAccess(off: number, size: AccessSize, value: number | null): number {
    const bar = this.config[PCI_CFG_CAP + 4]!;
    const offset = this.dv.getUint32(PCI_CFG_CAP + 8, true), length = this.dv.getUint32(PCI_CFG_CAP + 12, true);
    const handler = bar === MODERN_BAR ? this.modern : bar === LEGACY_BAR ? this.legacy : null;
    const limit = bar === MODERN_BAR ? MODERN_BAR_SIZE : legacyBarSize(this.transport.device.config.length);
    if (!handler || off !== PCI_CFG_CAP + 16 || size !== length || (length !== 1 && length !== 2 && length !== 4) || offset + length > limit) return 0;
    if (value === null) return handler.read(offset, size);
    handler.write(offset, size, value);
    return 0;
  }
}

export interface VirtioPciState extends DeviceState {
  device: 'virtio-pci';
  version: 1;
  /** virtio device type (2 block, 3 console, 4 entropy): a restore needs the same device in the slot. */
  deviceType: number;
  status: number;
  isr: number;
  driverFeatures: number;
  configGeneration: number;
  legacy: boolean;
  intxDisabled: boolean;
  failure: string | null;
  modernSelectors: number[];
  legacyQueueSel: number;
  queues: VirtqueueState[];
  extra: Record<string, unknown>;
}

/**
 * The snapshot schema of one virtio function (DESIGN.md "Devices"): transport, queues,
 * register selectors and device extras. Its config space is in PciHost's state.
 */
export class VirtioPciDeviceState implements Device<VirtioPciState> {
  readonly name: string;
  constructor(private readonly fn: VirtioPciFunction) {
    this.name = `virtio-pci@${fn.device.toString(16).padStart(2, '0')}`;
  }

  reset(): void {
    this.fn.transport.reset();
    this.fn.modern.reset();
    this.fn.legacy.queueSel = 0;
  }

  saveState(): VirtioPciState {
    const t = this.fn.transport;
    return {
      device: 'virtio-pci', version: 1, deviceType: t.device.deviceId, status: t.status, isr: t.isr, driverFeatures: t.driverFeatures,
      configGeneration: t.configGeneration, legacy: t.legacy, intxDisabled: t.intxDisabled, failure: t.failure,
      modernSelectors: this.fn.modern.selectors, legacyQueueSel: this.fn.legacy.queueSel,
      queues: t.queues.map((q) => q.saveState()), extra: t.device.saveExtra(),
    };
  }

  loadState(s: VirtioPciState): void {
    checkState(s, 'virtio-pci', 1);
    const t = this.fn.transport;
    if (s.deviceType !== t.device.deviceId) throw new Error(`${this.name} loadState: the snapshot has virtio device type ${s.deviceType} in this slot, this machine has ${t.device.deviceId} (${t.device.name})`);
    if (s.queues.length !== t.queues.length) throw new Error(`${this.name} loadState: ${s.queues.length} queues saved, device has ${t.queues.length}`);
    Object.assign(t, {
      status: s.status, isr: s.isr, driverFeatures: s.driverFeatures, configGeneration: s.configGeneration,
      legacy: s.legacy, intxDisabled: s.intxDisabled, failure: s.failure,
    });
    this.fn.modern.selectors = s.modernSelectors;
    this.fn.legacy.queueSel = s.legacyQueueSel;
    s.queues.forEach((q, i) => t.queues[i]!.loadState(q));
    t.device.loadExtra(s.extra);
    t.updateIrq();
    t.device.restored();
  }
}
