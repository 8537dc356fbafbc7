import { describe, expect, it } from 'vitest';
import { MiniPc } from '../helpers/mini-pc';

// Tiny hand-assembled guests for the run loop's edge cases.
describe('mini-pc run loop', () => {
  it('reports CLI; HLT as halted forever instead of spinning', () => {
    const pc = new MiniPc();
    pc.loadFlat32(Uint8Array.of(0xfa, 0xf4)); // cli; hlt
    const r = pc.run(1000);
    expect(r.reason).toBe('halted-forever');
  });

  it('port 0xE9 console and isa-debug-exit from a guest', () => {
    const pc = new MiniPc();
    // mov al,'A'; out 0xe9,al; mov al,7; out 0xf4,al
    pc.loadFlat32(Uint8Array.of(0xb0, 0x41, 0xe6, 0xe9, 0xb0, 0x07, 0xe6, 0xf4, 0xf4));
    const r = pc.run(1000);
    expect(pc.debugcon.text).toBe('A');
    expect(r.reason).toBe('exit');
    expect(r.exitStatus).toBe(15);
  });
});
