// Boots a Linux kernel under v86 (npm package, headless) for the peer rows of
// bench/boot.ts, copying the guest's serial output to stdout. When the ready marker
// appears it prints `v86-instructions N` on stderr and exits.
//
// Usage (bench/peers.ts spawns it): node dist/bench/v86-boot.js KERNEL INITRD CMDLINE MEM_MIB MARKER BIOS VGABIOS
//
// v86's instruction counter is a 32-bit value that wraps every 2^32 instructions (a few
// seconds of a Linux boot), so it is sampled every 100 ms and the deltas are summed
// modulo 2^32; at v86's speed a 100 ms delta is far below 2^32.
import { readFileSync } from 'node:fs';

interface V86Like {
  add_listener(event: 'serial0-output-byte', fn: (byte: number) => void): void;
  get_instruction_counter(): number;
  destroy(): Promise<void> | void;
}
type V86Ctor = new (options: Record<string, unknown>) => V86Like;

function image(path: string): { buffer: ArrayBuffer } {
  const b = readFileSync(path);
  return { buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer };
}

async function main(): Promise<void> {
  const [kernel, initrd, cmdline, mem, marker, bios, vgabios] = process.argv.slice(2);
  if (!vgabios) throw new Error('usage: v86-boot KERNEL INITRD CMDLINE MEM_MIB MARKER BIOS VGABIOS');
  // A runtime import (not bundled): v86 is an optional development dependency.
  const name = 'v86';
  const mod = (await import(name)) as { V86: V86Ctor };
  const { createRequire } = await import('node:module');
  const wasm = createRequire(import.meta.url).resolve('v86/build/v86.wasm');
  const emu = new mod.V86({
    wasm_path: wasm,
    bios: image(bios),
    vga_bios: image(vgabios),
    bzimage: image(kernel),
    initrd: image(initrd),
    cmdline,
    memory_size: Number(mem) * 1024 * 1024,
    autostart: true,
    disable_speaker: true,
    fastboot: true,
  });
  let total = 0, last = 0;
  const sample = (): void => {
    const now = emu.get_instruction_counter();
    total += (now - last) >>> 0;
    last = now;
  };
  const timer = setInterval(sample, 100);
  let tail = '';
  emu.add_listener('serial0-output-byte', (byte) => {
    const c = String.fromCharCode(byte);
    process.stdout.write(c);
    tail = (tail + c).slice(-marker.length);
    if (tail === marker) {
      sample();
      clearInterval(timer);
      process.stderr.write(`v86-instructions ${total}\n`, () => process.exit(0));
    }
  });
}

main().catch((e: unknown) => {
  console.error(`v86-boot: ${(e as Error).message}`);
  process.exit(1);
});
