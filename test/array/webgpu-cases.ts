// Shared by the WebGPU kernel tests: the adapter gate, seeded data, GPU-vs-CPU comparison and the matmul cases.

import test, { type ExecutionContext, type ImplementationFn } from 'ava';
import { NDArray, type DType } from '../../runtime/array/ndarray.js';
import { RandomState } from '../../runtime/array/random.js';
import { array } from '../../runtime/array/xp.js';
import { matmulArray as matmul } from '../../runtime/ops/matmul/kernels.js';
import { matmulWith, type Tiling } from '../../runtime/ops/matmul/webgpu.js';

export type GpuTest = (title: string, fn: ImplementationFn<[]>) => void;

/**
 * `test` for WebGPU, given why the device could not be made (null when it was): skipped
 * with the reason in its title, except in CI, where a missing adapter fails.
 */
export function gpuTestGate(reason: string | null, failInCi = true): GpuTest {
  return (title, fn) => {
    if (reason === null) test(title, fn);
    else if (process.env.CI && failInCi) test(title, (t) => t.fail(`no WebGPU adapter in CI: ${reason}`));
    else test.skip(`${title} (${reason})`, fn);
  };
}

/** Seeded data on the CPU: uniform in [lo, hi), or integers in [lo, hi) when `ints`. */
export function data(shape: readonly number[], seed: number, lo = -1, hi = 1, dtype: DType = 'float32', ints = false): NDArray {
  const rng = new RandomState(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, () => (ints ? Math.floor(lo + (hi - lo) * rng.uniform()) : lo + (hi - lo) * rng.uniform()));
  return array(v, shape.slice(), dtype);
}

/** |gpu - cpu| <= atol + rtol |cpu| everywhere, reporting the first element that is not. */
export async function close(t: ExecutionContext, gpu: NDArray, cpu: NDArray, atol = 1e-5, rtol = 1e-4, label = ''): Promise<void> {
  t.deepEqual(gpu.shape, cpu.shape, `${label} shape`);
  t.is(gpu.device, 'webgpu');
  const g = await gpu.data(), c = cpu.toFlat();
  for (let i = 0; i < c.length; i++) {
    if (!(Math.abs(g[i] - c[i]) <= atol + rtol * Math.abs(c[i]))) {
      t.fail(`${label} element ${i}: ${g[i]} on the GPU, ${c[i]} on the CPU`);
      return;
    }
  }
  t.pass();
}

/** The same view on both devices: `view` applied to a CPU array and to its GPU copy. */
export function both(x: NDArray, view: (x: NDArray) => NDArray = (v) => v): [NDArray, NDArray] {
  return [view(x), view(x.toGpu())];
}

// ---- matmul -----------------------------------------------------------------------------

// the tolerance grows with k: float32 sums in another order
const matmulTol = (k: number) => 1e-5 * Math.max(8, k);

/** matmul on the GPU (the tiling it chooses, or `tiling`) equals the CPU's. */
async function checkMatmul(t: ExecutionContext, [a, ga]: [NDArray, NDArray], [b, gb]: [NDArray, NDArray], tiling?: Tiling): Promise<void> {
  const k = a.shape[a.ndim - 1];
  const label = `a ${ga.shape} strides ${ga.strides} offset ${ga.offset}, b ${gb.shape} strides ${gb.strides} offset ${gb.offset}`;
  const got = tiling === undefined ? matmul(ga, gb) : matmulWith(ga, gb, tiling);
  await close(t, got, matmul(a, b), matmulTol(k), 1e-4, `${label}${tiling ? `, tiling ${JSON.stringify(tiling)}` : ''}`);
}

const T = (x: NDArray) => x.transpose();

/**
 * The matmul tests, each title starting with `prefix`: every case with the tiling matmul
 * chooses, and each of `tilings` on cases that reach all its code (B read both ways,
 * scalar and vec4 stores, a k % 4 tail, edges not divisible by the blocks, a batch).
 * Each tiling is its own kernel, compiled on first use: a second or so on lavapipe.
 */
export function matmulTests(gpuTest: GpuTest, prefix: string, tilings: () => Record<string, Tiling>): void {
  gpuTest(`${prefix} matmul with every tiling equals the CPU's`, async (t) => {
    for (const tiling of Object.values(tilings())) {
      await checkMatmul(t, both(data([65, 17], 40)), both(data([17, 129], 41)), tiling);
      await checkMatmul(t, both(data([33, 18], 42)), both(data([12, 20], 43), (x) => x.view([12, 18], [20, 1], 0).transpose()), tiling);
      await checkMatmul(t, both(data([2, 3, 9, 13], 44)), both(data([2, 3, 13, 8], 45)), tiling);
    }
  });

  for (const [m, k, n] of [[1, 1, 1], [3, 5, 7], [65, 17, 129], [4, 8, 12], [33, 64, 10], [2, 300, 3]]) {
    gpuTest(`${prefix} matmul ${m}x${k} @ ${k}x${n} equals the CPU's`, async (t) => {
      await checkMatmul(t, both(data([m, k], 1)), both(data([k, n], 2)));
    });
  }

  gpuTest(`${prefix} matmul reads transposed views as they are (a^T, b^T, both)`, async (t) => {
    await checkMatmul(t, both(data([17, 65], 3), T), both(data([17, 129], 4)));
    await checkMatmul(t, both(data([65, 17], 5)), both(data([129, 17], 6), T));
    await checkMatmul(t, both(data([17, 65], 7), T), both(data([129, 17], 8), T));
    // B^T with rows a multiple of 4 apart is read in place (the 'nt' kernel), k % 4 tail or not
    await checkMatmul(t, both(data([9, 16], 9)), both(data([12, 16], 10), T));
    await checkMatmul(t, both(data([9, 18], 11)), both(data([12, 20], 12), (x) => x.view([12, 18], [20, 1], 0).transpose()));
    // A^T with rows a multiple of 4 apart (packed: A is read along k)
    await checkMatmul(t, both(data([16, 12], 13), T), both(data([16, 8], 14)));
  });

  gpuTest(`${prefix} matmul reads offset, padded, reversed and broadcast views`, async (t) => {
    const base = data([40, 24], 15);
    // rows of 24 with 18 used: aligned, read in place with a k % 4 tail
    await checkMatmul(t, both(base, (x) => x.view([40, 18], [24, 1], 0)), both(data([18, 20], 16)));
    // a window at a misaligned offset: packed first
    await checkMatmul(t, both(base, (x) => x.view([30, 18], [24, 1], 24 * 3 + 5)), both(data([18, 20], 17)));
    // an aligned window of b: read in place
    await checkMatmul(t, both(data([6, 24], 18)), both(base, (x) => x.view([24, 12], [24, 1], 24 * 2 + 8)));
    // rows in reverse order: a negative stride, read in place
    await checkMatmul(t, both(base, (x) => x.view([40, 24], [-24, 1], 39 * 24)), both(data([24, 20], 19)));
    // the same b for every batch entry (stride 0 over the batch)
    await checkMatmul(t, both(data([3, 5, 6], 20)), both(data([6, 7], 21), (x) => x.broadcastTo([3, 6, 7])));
  });

  gpuTest(`${prefix} batched matmul over two batch dims, plain and transposed`, async (t) => {
    await checkMatmul(t, both(data([2, 3, 9, 13], 22)), both(data([2, 3, 13, 11], 23)));
    const swap = (x: NDArray) => x.transpose([1, 0, 3, 2]);
    await checkMatmul(t, both(data([3, 2, 13, 9], 24), swap), both(data([3, 2, 11, 13], 25), swap));
    await checkMatmul(t, both(data([4, 5, 8], 26)), both(data([4, 12, 8], 27), (x) => x.transpose([0, 2, 1])));
  });

  gpuTest(`${prefix} matmul of empty operands: k = 0 gives zeros, m = 0 an empty array`, async (t) => {
    const [a, ga] = both(data([3, 0], 28)), [b, gb] = both(data([0, 4], 29));
    await close(t, matmul(ga, gb), matmul(a, b));
    t.deepEqual(Array.from(await matmul(ga, gb).data()), new Array(12).fill(0));
    const [e, ge] = both(data([0, 5], 30)), [f, gf] = both(data([5, 4], 31));
    await close(t, matmul(ge, gf), matmul(e, f));
  });
}
