// KVM port-I/O exit round trip: a real-mode guest loop of OUT (or IN) to a TypeScript
// device, each one a KVM exit handled by the same bus as the interpreter's accesses,
// then KVM_RUN again. Prints exits per second and the cost of one round trip, with the
// interpreter running the same guest for reference.
// Run: npm run bench:kvm   (never part of npm test; needs a usable /dev/kvm)
import { loadavg } from 'node:os';
import { Machine } from '../src/machine/machine';
import { probeKvm } from '../src/accel/kvm/probe';

const N = Number(process.env.BENCH_EXITS ?? 200_000);

/** mov ecx, N ; mov dx, PORT ; l: out dx, al | in al, dx ; dec ecx ; jnz l ; mov al, 0 ; out 0xf4, al */
function guest(port: number, io: 'out' | 'in'): Uint8Array {
  return Uint8Array.from([
    0x66, 0xb9, N & 0xff, (N >>> 8) & 0xff, (N >>> 16) & 0xff, N >>> 24,
    0xba, port & 0xff, port >>> 8,
    io === 'out' ? 0xee : 0xec,
    0x66, 0x49,
    0x75, 0xfb,
    0xb0, 0x00, 0xe6, 0xf4,
  ]);
}

async function one(name: string, image: Uint8Array, accel: 'kvm' | 'interp', irqchip: 'user' | 'kernel' = 'user'): Promise<void> {
  const m = new Machine({ memMiB: 64, kernel: { path: name, image }, flatBits: 16, flatAddr: 0x7c00, accel, irqchip });
  const t0 = performance.now();
  const r = await m.run();
  const s = (performance.now() - t0) / 1000;
  const exits = m.kvm ? m.kvm.exits : N;
  m.close();
  if (r.reason !== 'debug-exit') throw new Error(`${name}: guest stopped with ${r.reason}: ${r.message}`);
  const label = `${name} (${accel}${accel === 'kvm' ? `, irqchip ${irqchip}` : ''})`.padEnd(44);
  process.stdout.write(`${label} ${N} port accesses in ${s.toFixed(2)} s: ${Math.round(N / s).toLocaleString('en')} /s, ${((s / N) * 1e6).toFixed(2)} µs each${accel === 'kvm' ? ` (${exits} KVM exits)` : ''}\n`);
}

const p = probeKvm();
process.stdout.write(`kvm-exits: ${N} accesses per run; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${p.ok ? 'KVM usable' : `KVM not usable: ${p.reason}`}\n`);
if (p.ok) {
  await one('OUT to port 0x80 (POST code port)', guest(0x80, 'out'), 'kvm');
  await one('IN from port 0x61 (system control B)', guest(0x61, 'in'), 'kvm');
  await one('OUT to port 0x80 (POST code port)', guest(0x80, 'out'), 'kvm', 'kernel');
}
await one('OUT to port 0x80 (POST code port)', guest(0x80, 'out'), 'interp');
