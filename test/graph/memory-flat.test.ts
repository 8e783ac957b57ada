// CPU memory stays flat in a synchronous training loop: a dropped loss frees its graph without waiting for the event loop.

import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { F, Variable, randomNormal } from '../../runtime/index.js';
import { report, type MemcheckResult } from '../../scripts/memcheck.js';

const run = promisify(execFile);
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

test('a dropped loss frees its whole graph within one synchronous job (no await, no weak reference to wait on)', (t) => {
  const w = new Variable(randomNormal([256, 1024]));
  const collect = () => { for (let i = 0; i < 3; i++) gc(); }; // array buffers are swept a round later
  collect();
  const before = process.memoryUsage().arrayBuffers;
  // each step makes three 1 MiB intermediates (x, x * w, tanh) and gradients of the same size
  for (let i = 0; i < 150; i++) F.sum(F.tanh(F.mul(randomNormal([256, 1024]), w))).backward();
  collect();
  const grown = process.memoryUsage().arrayBuffers - before;
  t.log(`array buffers grew by ${(grown / 2 ** 20).toFixed(1)} MiB over 150 steps of 3 MiB of intermediates`);
  t.true(grown < 16 * 2 ** 20, `${grown} bytes still held`);
});

test('the graph and the CPU arrays use no weak reference or finalizer (the CPU hot path waits on no event loop), but for the bounded resident blocks', (t) => {
  const dirs = ['runtime/graph', 'runtime/array/cpu'];
  const files = dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.ts')).map((f) => `${d}/${f}`));
  files.push('runtime/array/ndarray.ts', 'runtime/array/xp.ts');
  for (const f of files) {
    const uses = readFileSync(f, 'utf8').match(/\b(WeakRef|FinalizationRegistry)\b/g) ?? [];
    // one finalizer frees parameters' blocks in the matmul's memory: nothing waits on it, and
    // RESIDENT_MAX_FLOATS bounds what a loop that never yields holds (test/cpu/resident.test.ts)
    t.is(uses.length, f === 'runtime/array/cpu/wasm-matmul.ts' ? 2 : 0, f);
  }
});

test('memcheck [cpu]: the README MLP, 10,000 steps of optimizer.update(lossFn) in a synchronous loop: RSS grows < 5% from step 1,000 to 10,000', async (t) => {
  // its own process, so that RSS is the loop's alone (see scripts/memcheck.ts for the flag)
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--min-semi-space-size=16', 'scripts/memcheck.ts', '--steps', '10000', '--json']);
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as MemcheckResult;
  t.log(report(r, 'cpu'));
  t.is(r.samples.length, 10);
  t.true(r.growth < 0.05, `RSS after collection grew ${(100 * r.growth).toFixed(2)}%`);
  t.true(r.lastLoss < r.firstLoss, `the loss fell (${r.firstLoss} -> ${r.lastLoss})`);
});
