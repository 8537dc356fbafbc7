import type { AccessSize } from '../cpu/interfaces';

/**
 * The one handler signature for port I/O and MMIO (DESIGN.md, "Devices").
 * `offset` is relative to the start of the registered range.
 */
export interface IoHandler {
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
  /**
   * Side-effect-free read for debuggers (never pops a FIFO or clears a status bit).
   * When absent the bus reports all ones rather than risk a side effect.
   */
  peek?(offset: number, size: AccessSize): number;
}

export interface IoRegionOptions {
  /** Access widths the device takes whole (bit n set = 1 << n bytes); default all. */
  sizes?: number;
  /** Whether unaligned accesses are passed through whole (default false: split). */
  unaligned?: boolean;
}

export const SIZE_1 = 1 << 0;
export const SIZE_2 = 1 << 1;
export const SIZE_4 = 1 << 2;

export function sizeMask(size: AccessSize): number {
  return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
}
