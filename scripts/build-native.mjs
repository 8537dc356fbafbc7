// Builds the KVM shim (native/) with node-gyp, from `npm install`/`npm ci` (the
// package.json "install" script). Optional by design: any failure (no compiler, no
// headers, no node-gyp) prints ONE line and exits 0, and ts86 runs with the
// interpreter. node-gyp run directly ignores npm's `nodedir`, so when the distribution
// ships the headers (/usr/include/node) it is pointed there instead of downloading them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');

function findNodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const candidates = [];
  try { candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')); } catch { /* not a dependency */ }
  // npm's bundled node-gyp, next to the npm that runs us or the node binary.
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((p) => existsSync(p)) ?? null;
}

function main() {
  if (process.platform !== 'linux') return 'KVM needs Linux';
  if (!existsSync(join(nativeDir, 'binding.gyp'))) return 'native/binding.gyp is missing';
  const gyp = findNodeGyp();
  if (!gyp) return 'node-gyp not found';
  const args = [gyp, 'rebuild'];
  if (existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
  const r = spawnSync(process.execPath, args, { cwd: nativeDir, encoding: 'utf8', timeout: 180_000 });
  if (r.error) return r.error.message;
  if (r.status !== 0) {
    const err = `${r.stderr ?? ''}`.split('\n').find((l) => /error/i.test(l) && !/^gyp info/.test(l));
    return `node-gyp exited with ${r.status}${err ? `: ${err.trim()}` : ''}`;
  }
  if (!existsSync(join(nativeDir, 'build', 'Release', 'ts86_kvm.node'))) return 'node-gyp produced no ts86_kvm.node';
  return null;
}

const why = main();
if (why) process.stdout.write(`ts86: KVM shim not built (${why}); the interpreter works without it.\n`);
else process.stdout.write('ts86: KVM shim built (native/build/Release/ts86_kvm.node).\n');
