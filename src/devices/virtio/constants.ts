// Numbers from the virtio 1.x specification (OASIS virtio v1.1/1.2), cited by section.

/** Device status bits (§2.1). */
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

/** Reserved feature bits (§6). Bit numbers; 64-bit feature words are kept as numbers below 2^53. */
export const F_INDIRECT_DESC = 28;
export const F_EVENT_IDX = 29;
export const F_VERSION_1 = 32;

/** Descriptor flags (§2.7.5). */
export const DESC_F_NEXT = 1;
export const DESC_F_WRITE = 2;
export const DESC_F_INDIRECT = 4;

/** avail.flags / used.flags (§2.7.7, §2.7.10). */
export const AVAIL_F_NO_INTERRUPT = 1;
export const USED_F_NO_NOTIFY = 1;

/** Device types (§5). */
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_ID_RNG = 4;

/** PCI: the virtio vendor, and transitional device ids 0x1000 + type - 1 (§4.1.2.1). */
export const PCI_VENDOR_VIRTIO = 0x1af4;
export const PCI_TRANSITIONAL_ID: Record<number, number> = { [VIRTIO_ID_BLOCK]: 0x1001, [VIRTIO_ID_CONSOLE]: 0x1003, [VIRTIO_ID_RNG]: 0x1005 };

/** Virtio PCI capability cfg_type values (§4.1.4). */
export const PCI_CAP_COMMON_CFG = 1;
export const PCI_CAP_NOTIFY_CFG = 2;
export const PCI_CAP_ISR_CFG = 3;
export const PCI_CAP_DEVICE_CFG = 4;
export const PCI_CAP_PCI_CFG = 5;

/** ISR status bits (§4.1.4.5). */
export const ISR_QUEUE = 1;
export const ISR_CONFIG = 2;

/** Bit `n` of a feature word as a number (bits above 31 included). */
export function featureBit(n: number): number {
  return 2 ** n;
}

/** Whether `features` has bit `n`. */
export function hasFeature(features: number, n: number): boolean {
  return Math.floor(features / 2 ** n) % 2 === 1;
}

/** Low and high 32-bit halves of a feature word. */
export function featureWord(features: number, sel: number): number {
  if (sel === 0) return features % 2 ** 32 >>> 0;
  if (sel === 1) return Math.floor(features / 2 ** 32) >>> 0;
  return 0;
}
