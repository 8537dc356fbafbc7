// What a loader hands the Machine: bytes to place in RAM and the CPU entry state.

export interface LoadedImage {
  kind: 'bzimage' | 'multiboot' | 'elf' | 'flat';
  /** Human-readable description for the banner. */
  describe: string;
  entry: { mode: 'real' | 'pm32'; eip: number; cs?: number; regs?: Partial<Record<'eax' | 'ebx' | 'ecx' | 'edx' | 'esi' | 'edi' | 'ebp' | 'esp', number>> };
  /** A GDT the loader built (base/limit) that the CPU must use, when the protocol requires one. */
  gdt?: { base: number; limit: number };
}

/** Guest memory as a loader sees it: bounds-checked copies into RAM. */
export interface LoadTarget {
  ramBytes: number;
  write(addr: number, data: Uint8Array): void;
  fill(addr: number, len: number, value: number): void;
}
