import { describe, expect, it } from 'vitest';
import { shutdownHint } from '../../src/accel/kvm/shutdown-hint';
import { CS } from '../../src/cpu/consts';
import { Harness } from '../helpers/cpu-harness';

// The vCPU state KVM_EXIT_SHUTDOWN leaves on a host without 32-bit paging: still at the
// MOV CR0 that sets PG (no KVM needed to test the explanation).
function atMovCr0(modrm: number, value: number): Harness {
  const h = new Harness();
  h.cpu.segBase[CS] = 0x1000;
  h.cpu.eip = 0x10d;
  h.load(0x110d, [0x0f, 0x22, modrm]);
  h.cpu.r32[modrm & 7] = value | 0;
  h.cpu.cr0 = 0x11;
  return h;
}

describe('KVM shutdown explanation', () => {
  it('names the 32-bit paging limitation when the vCPU stopped at MOV CR0 setting PG', () => {
    expect(shutdownHint(atMovCr0(0xc0, 0x80050033).cpu)).toMatch(/enabling 32-bit paging.*--accel interp/);
    expect(shutdownHint(atMovCr0(0xc3, 0x80000011).cpu)).toMatch(/32-bit paging/); // mov cr0, ebx
  });

  it('says nothing for other shutdowns', () => {
    expect(shutdownHint(atMovCr0(0xc0, 0x00000011).cpu)).toBe(''); // PG clear: not a paging switch
    expect(shutdownHint(atMovCr0(0xd8, 0x80000011).cpu)).toBe(''); // mov cr3, eax
    const paged = atMovCr0(0xc0, 0x80000011);
    paged.cpu.cr0 = 0x80000011; // paging already on: the MOV completed, some later fault
    expect(shutdownHint(paged.cpu)).toBe('');
    const long = atMovCr0(0xc0, 0x80000011);
    long.cpu.efer = 0x100; // entering long mode works on these hosts
    expect(shutdownHint(long.cpu)).toBe('');
    const other = atMovCr0(0xc0, 0x80000011);
    other.load(0x110d, [0x90, 0x90, 0x90]);
    expect(shutdownHint(other.cpu)).toBe('');
  });
});
