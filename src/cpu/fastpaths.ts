// The interpreter's fast paths and their switches. Every fast path can be turned off
// (Cpu options, or the TS86_FASTPATHS environment variable) so that a plain correctness
// baseline always exists and the test suite can run against it.
//
// TS86_FASTPATHS:
//   unset / "on"          every fast path on (the default)
//   "off"                 every fast path off
//   "-jit,-compile"       the named paths off (a leading '-' or a trailing '=off'), the rest on
// Names: decodeCache (decoded-instruction cache), tlb (software TLB), blocks (block
// dispatch: decoded instructions grouped into straight-line blocks run without per-instruction
// lookups), compile (hot blocks compiled to JavaScript, the second tier), links (a block
// remembers the blocks that followed it, so the next lookup skips the fetch path),
// sideExits (blocks continue past 32-bit conditional jumps, which become side exits),
// loops (a compiled block that jumps back to its own start loops inside its function),
// chain (a compiled block ending in a jump/call/return runs its linked compiled successor
// without a trip through the run loop), ramFast (compiled blocks read and write aligned
// RAM operands through typed arrays on a TLB hit, see jit.ts fastCond), regions (a hot block is
// compiled together with the blocks its branches reach on the same page, and branches
// between them stay inside the compiled function; off: one block per function), repFast
// (REP MOVS/STOS and REPNE SCASB over plain RAM run a page at a time as typed-array
// copies, fills and scans instead of one access per iteration), wasm (regions whose
// instructions all have forms in wasm-jit.ts compiled to WebAssembly over guest memory in a
// WebAssembly.Memory; needs compile, regions and ramFast).

export interface FastPaths {
  decodeCache: boolean;
  tlb: boolean;
  blocks: boolean;
  compile: boolean;
  links: boolean;
  sideExits: boolean;
  loops: boolean;
  chain: boolean;
  ramFast: boolean;
  regions: boolean;
  repFast: boolean;
  wasm: boolean;
}

export const FAST_PATH_NAMES: readonly (keyof FastPaths)[] = ['decodeCache', 'tlb', 'blocks', 'compile', 'links', 'sideExits', 'loops', 'chain', 'ramFast', 'regions', 'repFast', 'wasm'];

/** Parses a TS86_FASTPATHS value (see above); unknown names are an error so a typo cannot silently test the wrong thing. */
export function parseFastPaths(spec: string | undefined): FastPaths {
  const all = (on: boolean): FastPaths => ({ decodeCache: on, tlb: on, blocks: on, compile: on, links: on, sideExits: on, loops: on, chain: on, ramFast: on, regions: on, repFast: on, wasm: on });
  const s = (spec ?? '').trim();
  if (s === '' || s === 'on') return all(true);
  if (s === 'off') return all(false);
  const fp = all(true);
  for (const raw of s.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    let name = item, on = true;
    if (name.startsWith('-')) { name = name.slice(1); on = false; } else if (name.startsWith('+')) name = name.slice(1);
    const eq = name.indexOf('=');
    if (eq >= 0) { on = name.slice(eq + 1) !== 'off' && name.slice(eq + 1) !== '0'; name = name.slice(0, eq); }
    const key = FAST_PATH_NAMES.find((k) => k.toLowerCase() === name.toLowerCase());
    if (!key) throw new Error(`TS86_FASTPATHS: unknown fast path '${name}' (known: ${FAST_PATH_NAMES.join(', ')}, or on/off)`);
    fp[key] = on;
  }
  return fp;
}

let envDefaults: FastPaths | null = null;
/** The defaults from TS86_FASTPATHS (read once per process). */
export function fastPathDefaults(): FastPaths {
  if (envDefaults === null) envDefaults = parseFastPaths(typeof process !== 'undefined' ? process.env.TS86_FASTPATHS : undefined);
  return envDefaults;
}

/**
 * The default compile threshold: TS86_JIT_THRESHOLD (runs of a block before it is
 * compiled) or 2000. V8 spends milliseconds optimising each compiled block (on the
 * machine's other core, or this one), so only blocks that run often repay it; a Linux
 * boot has tens of thousands of blocks that run a few hundred times. Tests set 1 so
 * that every block runs compiled from its first run.
 */
export function compileThresholdDefault(): number {
  const v = Number(typeof process !== 'undefined' ? process.env.TS86_JIT_THRESHOLD ?? '' : '');
  return Number.isInteger(v) && v >= 1 ? v : 2000;
}
