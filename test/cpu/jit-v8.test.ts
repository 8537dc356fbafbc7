// The JIT tells V8 to optimise its big region functions after the base number of ticks
// (see tuneV8 in src/cpu/jit.ts), once, on the first compile; TS86_V8_TIERING=0 opts out.
import { afterEach, describe, expect, it, vi } from 'vitest';

const calls: string[] = [];
vi.mock('node:v8', async (orig) => ({ ...(await orig<typeof import('node:v8')>()), setFlagsFromString: (f: string) => { calls.push(f); } }));

async function compileOne(): Promise<void> {
  const { Harness } = await import('../helpers/cpu-harness');
  const h = new Harness(1, { decodeCache: true, blocks: true, compile: true, links: true, sideExits: true, loops: true, chain: true, ramFast: true, regions: true, compileThreshold: 1 }).flat32([0xf4]);
  h.exec([0x40, 0x43, 0x01, 0xd8]);
  expect(h.cpu.mmuStats().code.compiled).toBeGreaterThan(0);
}

describe('V8 tiering for compiled regions', () => {
  afterEach(() => { calls.length = 0; vi.resetModules(); delete process.env.TS86_V8_TIERING; });

  it('sets the bytecode-size allowance once, when the first region is compiled', async () => {
    await compileOne();
    await compileOne();
    expect(calls).toEqual(['--bytecode-size-allowance-per-tick=1000000']);
  });

  it('leaves V8 alone with TS86_V8_TIERING=0', async () => {
    process.env.TS86_V8_TIERING = '0';
    await compileOne();
    expect(calls).toEqual([]);
  });
});
