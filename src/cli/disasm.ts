// `ts86 disasm FILE --bits 16|32 [--org ADDR]`: an objdump-style Intel-syntax listing
// of a flat binary. Parsing and printing only; the disassembler is src/debug/disasm.ts.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { disassemble, formatListing } from '../debug/disasm';
import { UserError } from './errors';

export interface DisasmCliOptions {
  bits?: string;
  org?: string;
}

/** "16" or "32"; anything else is a user error. */
export function parseBits(s: string | undefined): 16 | 32 {
  if (s === undefined || s === '32') return 32;
  if (s === '16') return 16;
  throw new UserError(`--bits must be 16 or 32, not '${s}'`);
}

/** An address: 0x-prefixed hex or decimal, 0..0xffffffff. */
export function parseAddress(s: string | undefined, flag = '--org'): number {
  if (s === undefined) return 0;
  const t = s.trim();
  let v = NaN;
  if (/^0x[0-9a-f]+$/i.test(t)) v = parseInt(t.slice(2), 16);
  else if (/^[0-9]+$/.test(t)) v = parseInt(t, 10);
  if (!Number.isFinite(v) || v > 0xffffffff) {
    throw new UserError(`${flag} must be an address (0x hex or decimal, at most 0xffffffff), not '${s}'`);
  }
  return v;
}

function readBinary(file: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String((e as Error).message);
    throw new UserError(`cannot read ${file}: ${why}`);
  }
}

/** The command's action: the listing lines of `file`. Throws UserError on bad input. */
export function disasmListing(file: string, opts: DisasmCliOptions): string[] {
  const bits = parseBits(opts.bits);
  const org = parseAddress(opts.org);
  const bytes = readBinary(file);
  if (org + bytes.length > 0x100000000) throw new UserError(`--org ${opts.org}: the file would run past 4 GiB`);
  return formatListing(disassemble(bytes, { bits, org }), { endAddr: org + bytes.length });
}

/** `ts86 disasm FILE --bits 16|32 [--org ADDR]`. */
export function registerDisasmCommand(program: Command): void {
  program
    .command('disasm <file>')
    .description('disassemble a flat binary (Intel syntax, objdump-style listing)')
    .option('--bits <n>', 'code size: 16 or 32', '32')
    .option('--org <addr>', 'load address of the first byte (0x hex or decimal)', '0')
    .action((file: string, opts: DisasmCliOptions) => {
      const lines = disasmListing(file, opts);
      // `ts86 disasm x | head` closes the pipe early: that is the reader's choice, not an error.
      process.stdout.once('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EPIPE') process.exit(0);
        throw e;
      });
      if (lines.length) process.stdout.write(lines.join('\n') + '\n');
    });
}
