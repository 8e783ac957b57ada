// The threaded WebAssembly matmul: workers really take chunks, results equal the one-thread ones bit for bit, and linear's wasm epilogue (bias, relu) equals the JS one.

import test from 'ava';
import { matmulPool, wasmLinearBackward, wasmMatmul } from '../../runtime/array/cpu/wasm-matmul.js';
import { matmulThreads, othersBusy, setMatmulThreads, sharingPays, threadsPossible } from '../../runtime/array/cpu/matmul-threads.js';
import { NDArray } from '../../runtime/array/ndarray.js';

/** Deterministic values in [-1, 1) (a small LCG), so a failure reproduces. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const plain = (rows: number, cols: number, seed: number) => new NDArray(values(rows * cols, seed), [rows, cols]);
const transposed = (rows: number, cols: number, seed: number) => new NDArray(values(rows * cols, seed), [cols, rows]).transpose([1, 0]);

let defaultThreads = 1;

/** Wait (a few seconds at most) until the pool has `workers` workers started. */
async function poolWith(workers: number) {
  const pool = matmulPool();
  if (pool === null) throw new Error('no pool: threads should be possible on Node >= 20.16');
  // not adaptive: share even on a busy machine, which is what these tests check
  setMatmulThreads(workers + 1);
  pool.resize(workers + 1);
  for (let waited = 0; pool.ready < workers; waited += 10) {
    if (waited > 10_000) throw new Error(`only ${pool.ready} of ${workers} workers started in 10 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return pool;
}

// big enough to be shared (>= 500k multiply-adds); m past MC (128), k past KC (256), n past NC (4096)
const SHAPES: readonly [number, number, number, string][] = [
  [100, 784, 100, 'x W^T of the MLP'], [100, 100, 784, 'gW of the MLP'], [130, 300, 50, 'ragged m and n, two row blocks'], [20, 60, 4500, 'two column blocks'],
];

test.serial('worker threads are possible here, and the default is one thread a core (at most 4)', (t) => {
  t.true(threadsPossible());
  t.true(matmulThreads() >= 1 && matmulThreads() <= 4);
  defaultThreads = matmulThreads();
  t.throws(() => setMatmulThreads(0), { message: 'setMatmulThreads: expected an integer >= 1, got 0' });
});

test.serial('products shared over 1 and 2 workers equal the one-thread products bit for bit, and workers take chunks', async (t) => {
  const pool = await poolWith(2);
  const threaded: Float32Array[] = [];
  for (const [m, k, n] of SHAPES) {
    const a = plain(m, k, m + k), b = transposed(k, n, n + 1);
    threaded.push(wasmMatmul(a, b)!.toFlat() as Float32Array);
  }
  // workers wake asynchronously: on a busy machine the main thread may have done every chunk so far
  for (let i = 0; i < 200 && pool.stats.workerChunks === 0; i++) wasmMatmul(plain(100, 784, 1), transposed(784, 100, 2));
  t.true(pool.stats.workerChunks > 0, 'no chunk ran on a worker');
  await poolWith(1);
  const one: Float32Array[] = [];
  for (const [m, k, n] of SHAPES) one.push(wasmMatmul(plain(m, k, m + k), transposed(k, n, n + 1))!.toFlat() as Float32Array);
  pool.resize(1);
  t.is(pool.ready, 0);
  SHAPES.forEach(([m, k, n, what], s) => {
    const single = wasmMatmul(plain(m, k, m + k), transposed(k, n, n + 1))!.toFlat();
    t.deepEqual([...threaded[s]], [...single], `${what}: 2 workers`);
    t.deepEqual([...one[s]], [...single], `${what}: 1 worker`);
  });
  pool.resize(defaultThreads);
});

test.serial('waking the workers ahead of a job runs nothing by itself: the products after it equal the one-thread ones bit for bit', async (t) => {
  const pool = await poolWith(1);
  const [m, k, n] = SHAPES[0];
  const a = plain(m, k, 5), b = transposed(k, n, 6);
  const shared: number[][] = [];
  for (let i = 0; i < 3; i++) {
    pool.wake();
    // long enough for the woken worker to find no job, spin and go back to sleep
    await new Promise((r) => setTimeout(r, 5));
    shared.push([...wasmMatmul(a, b)!.toFlat()]);
  }
  await poolWith(0);
  const single = [...wasmMatmul(a, b)!.toFlat()];
  for (const s of shared) t.deepEqual(s, single);
  matmulPool()!.resize(defaultThreads);
});

test.serial("linear's epilogue in wasm (bias, then relu) equals the JS add and select(v <= 0, 0, v), NaN kept, on one thread and many", async (t) => {
  for (const workers of [0, 1]) {
    await poolWith(workers);
    for (const [m, k, n] of [[7, 5, 13], [100, 784, 100], [3, 0, 6]] as const) {
      const a = plain(m, k, 3), b = transposed(k, n, 4);
      if (m * k > 0) a.buffer[k + 1] = NaN; // row 1 of the product is NaN
      // a strided bias (every other element of a longer array)
      const bias = new NDArray(values(2 * n, 9), [n], [2], 1);
      const y = wasmMatmul(a, b)!.toFlat();
      for (const relu of [false, true]) {
        const got = wasmMatmul(a, b, undefined, bias, relu)!;
        t.deepEqual(got.shape, [m, n]);
        const expected = Float32Array.from(y, (v, q) => {
          const s = Math.fround(v + bias.buffer[1 + 2 * (q % n)]);
          return relu && s <= 0 ? 0 : s;
        });
        const flat = got.toFlat();
        const bad = expected.findIndex((e, q) => !Object.is(e, flat[q]));
        t.is(bad, -1, `${m}x${k}x${n} relu ${relu} (${workers} workers): element ${bad} is ${flat[bad]}, expected ${expected[bad]}`);
      }
    }
  }
  matmulPool()!.resize(defaultThreads);
});

test.serial("linear's one-kernel backward (relu mask, bias sums, gW = g^T x, gx = g W) is the same bit for bit on one thread and many, and equals the plain products", async (t) => {
  // the MLP's first two layers: both products past the threading threshold
  for (const [rows, inF, out] of [[100, 784, 100], [100, 100, 100]] as const) {
    const gy = plain(rows, out, 11), y = plain(rows, out, 12), x = plain(rows, inF, 13), W = plain(out, inF, 14);
    const runs = [];
    for (const workers of [0, 1]) {
      await poolWith(workers);
      const g = wasmLinearBackward(gy, y, x, W, { gx: true, gW: true, gb: true })!;
      runs.push([g.gx!, g.gW!, g.gb!].map((a) => [...a.toFlat()]));
    }
    t.deepEqual(runs[0], runs[1], `(${rows}, ${inF}) -> ${out}: 0 and 1 workers`);
    const masked = new NDArray(Float32Array.from(gy.toFlat(), (v, i) => (y.buffer[i] <= 0 ? 0 : v)), [rows, out]);
    t.deepEqual(runs[1][0], [...wasmMatmul(masked, W)!.toFlat()], 'gx');
    t.deepEqual(runs[1][1], [...wasmMatmul(masked.transpose([1, 0]), x)!.toFlat()], 'gW');
  }
  matmulPool()!.resize(defaultThreads);
});

test('adaptive sharing: other processes\' load is the machine\'s busy CPU time less this process\'s, over the window', (t) => {
  // 2 cores, a 500 ms window: this process alone kept 1.5 cores busy (main thread and a worker)
  t.is(othersBusy(750, 750, 500), 0);
  t.true(sharingPays(othersBusy(750, 750, 500), 2), 'a machine busy only with this process shares');
  // another process kept a core busy besides ours: no room for a worker on 2 cores, room on 4
  t.is(othersBusy(1250, 750, 500), 1);
  t.false(sharingPays(othersBusy(1250, 750, 500), 2));
  t.true(sharingPays(othersBusy(1250, 750, 500), 4));
  // half a core of others on 2 cores is the limit; a coarse clock that reads ours above the machine's is 0, not negative
  t.true(sharingPays(othersBusy(500, 250, 500), 2));
  t.false(sharingPays(othersBusy(510, 250, 500), 2));
  t.is(othersBusy(100, 130, 500), 0);
  t.is(othersBusy(100, 0, 0), 0, 'an empty window says nothing');
});
