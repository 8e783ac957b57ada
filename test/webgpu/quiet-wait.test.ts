// Waiting for the GPU in Node sleeps each event-loop turn instead of letting Dawn's poll spin: one nap chain for all waits, gone once they settle.

import test from 'ava';
import { NDArray } from '../../runtime/array/ndarray.js';
import '../../runtime/graph/backward.js';
import * as F from '../../runtime/ops/index.js';
import { quietWaits, quietly } from '../../runtime/array/webgpu/wait.js';
import { useDevices } from '../helpers.js';

const devices = await useDevices(test);
const after = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));
const turn = () => new Promise((r) => setImmediate(r));

test.serial('quietly: resolves and rejects as the promise does, naps while it is pending, and stops after', async (t) => {
  const naps = quietWaits.naps, start = performance.now();
  t.is(await quietly(after(30, 'done')), 'done');
  const napped = quietWaits.naps - naps, waited = performance.now() - start;
  t.true(napped > 5, `naps during a ${waited.toFixed(0)} ms wait: ${napped}`);
  // each nap sleeps 0.2 ms, so at most ~5 a millisecond: a chain that spun would count thousands
  t.true(napped <= waited / 0.1, `naps during a ${waited.toFixed(0)} ms wait: ${napped}`);
  await turn();
  t.is(quietWaits.pending, 0);
  t.is(quietWaits.chains, 0);
  const settled = quietWaits.naps;
  await after(20, null);
  t.is(quietWaits.naps, settled, 'no nap once nothing waits');
  const error = new Error('lost');
  await t.throwsAsync(quietly(after(5, null).then(() => { throw error; })), { is: error });
  await turn();
  t.is(quietWaits.pending, 0);
});

test.serial('quietly: waits that overlap, or start as another settles, share one chain', async (t) => {
  const chains: number[] = [];
  const watch = setInterval(() => chains.push(quietWaits.chains), 1);
  const first = quietly(after(15, 1));
  // a wait started just as the first settles: no second chain beside the first's
  const second = first.then(() => quietly(after(15, 2)));
  const rest = [3, 4, 5].map((k) => quietly(after(10, k)));
  t.is(quietWaits.chains, 1);
  t.deepEqual(await Promise.all([first, second, ...rest]), [1, 2, 3, 4, 5]);
  clearInterval(watch);
  t.true(chains.length > 0 && chains.every((c) => c === 1), `chains seen while waiting: ${[...new Set(chains)]}`);
  await turn();
  t.is(quietWaits.chains, 0);
});

devices.gpu('quietly: a read back waits quietly, and concurrent reads come back right', async (t) => {
  // products big enough to keep lavapipe busy for a few event-loop turns
  const n = 384;
  const ones = new NDArray(new Float32Array(n * n).fill(1), [n, n]).toGpu();
  const products = [1, 2, 3].map((k) => F.matmul(new NDArray(new Float32Array(n * n).fill(k), [n, n]).toGpu(), ones).data);
  const naps = quietWaits.naps;
  const values = await Promise.all(products.map((a) => a.data()));
  t.deepEqual(values.map((v) => [v.length, v.every((x) => x === v[0]) ? v[0] : NaN]), [[n * n, n], [n * n, 2 * n], [n * n, 3 * n]]);
  t.true(quietWaits.naps > naps, 'the reads napped while they waited');
  await turn();
  t.is(quietWaits.pending, 0);
});
