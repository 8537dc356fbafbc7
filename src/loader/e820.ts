// The PC memory map handed to guests (e820 for Linux, the multiboot mmap): RAM below
// the EBDA, the reserved legacy area 0x9fc00-0xfffff, and RAM from 1 MiB up.

export const E820_RAM = 1, E820_RESERVED = 2;

export interface MemRegion { addr: number; size: number; type: number }

export function pcMemoryMap(ramBytes: number): MemRegion[] {
  const map: MemRegion[] = [
    { addr: 0, size: 0x9fc00, type: E820_RAM },
    { addr: 0x9fc00, size: 0x400, type: E820_RESERVED },
    { addr: 0xf0000, size: 0x10000, type: E820_RESERVED },
  ];
  if (ramBytes > 0x100000) map.push({ addr: 0x100000, size: ramBytes - 0x100000, type: E820_RAM });
  return map;
}
