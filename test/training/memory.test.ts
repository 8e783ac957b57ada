// A long Trainer run keeps a flat heap: nothing per iteration is retained beyond the log.

import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

// A retained step of the tiny model (its graph, batch and arrays) is about 17 KB: before the
// Trainer yielded to the event loop each step, a run with no I/O grew by that much per step.
// What is left is a few dozen bytes of engine noise and the log's entries.
for (const setup of ['bare', 'all'] as const) {
  test(`3,000 iterations (after 1,500 of warm-up), ${setup === 'bare' ? 'no extensions' : 'every extension attached'}: under 1 KB of heap per iteration`, async (t) => {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/training/fixtures/heap.ts', setup], { timeout: 240_000 });
    const { warm, end, iterations } = JSON.parse(stdout) as { warm: number; end: number; iterations: number };
    const perIteration = (end - warm) / iterations;
    t.log(`heap ${(warm / 2 ** 20).toFixed(1)} MiB -> ${(end / 2 ** 20).toFixed(1)} MiB over ${iterations} iterations: ${perIteration.toFixed(1)} bytes per iteration`);
    t.true(perIteration < 1000, `${perIteration.toFixed(1)} bytes per iteration`);
  });
}
