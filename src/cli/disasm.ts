import type { Command } from 'commander';

/** `ts86 disasm FILE --bits 16|32 [--org ADDR]` (implemented in src/debug/disasm.ts). */
export function registerDisasmCommand(program: Command): void {
  program.command('disasm <file>').description('disassemble a flat binary (Intel syntax)').action(() => {});
}
