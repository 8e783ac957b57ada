// WebGPU reductions against the CPU: the serial kernel for short reductions, the workgroup-tree one (and its chunked two-pass form) for long ones.

import test from 'ava';
import { input, scalar } from '../../compiler/expr.js';
import { backendOf } from '../../runtime/array/backend.js';
import { initWebGpu, releaseWebGpu } from '../../runtime/array/webgpu/index.js';
import { reduce } from '../../runtime/array/xp.js';
import { both, close, data, gpuTestGate } from './webgpu-cases.js';

let reason: string | null = null;
try {
  await initWebGpu();
} catch (e) {
  reason = `no WebGPU adapter: ${(e as Error).message}`;
}
test.after.always(() => releaseWebGpu());
const gpuTest = gpuTestGate(reason);

// lengths on both sides of the tree threshold (256), outputs on both sides of 512 (serial above), one chunk and many
const SHAPES: readonly (readonly number[])[] = [[1000, 1000], [3, 700, 5], [20, 30, 576], [7, 300], [2, 5000], [4096, 3], [3, 40000]];

gpuTest('[webgpu] sum, max and min over every axis set equal the CPU, tree and serial kernels alike', async (t) => {
  for (const [k, shape] of SHAPES.entries()) {
    const [x, g] = both(data(shape, k, -2, 2));
    const axesSets = [...shape.keys()].map((d) => [d]).concat([[...shape.keys()]], shape.length === 3 ? [[0, 2], [1, 2]] : []);
    for (const op of ['sum', 'max', 'min'] as const) {
      for (const axes of axesSets) {
        const m = axes.reduce((p, d) => p * shape[d], 1);
        // float32 sums of m terms on the GPU against float64 ones on the CPU
        await close(t, reduce(op, g, axes), reduce(op, x, axes), op === 'sum' ? 1e-6 * m : 0, 1e-5, `${op} over ${axes} of (${shape})`);
      }
    }
  }
});

gpuTest('[webgpu] long reductions of strided and broadcast views, int32 inputs, keepdims', async (t) => {
  const [x, g] = both(data([600, 500], 1), (v) => v.transpose());
  await close(t, reduce('sum', g, [1]), reduce('sum', x, [1]), 1e-3, 1e-5);
  await close(t, reduce('max', g, [0, 1], true), reduce('max', x, [0, 1], true), 0, 0);
  const [b, gb] = both(data([1, 800], 2), (v) => v.broadcastTo([700, 800]));
  await close(t, reduce('sum', gb, [0]), reduce('sum', b, [0]), 1e-3, 1e-5);
  const [i, gi] = both(data([300, 400], 3, -50, 50, 'int32', true));
  await close(t, reduce('max', gi, [1]), reduce('max', i, [1]), 0, 0);
  await close(t, reduce('sum', gi, [0, 1]), reduce('sum', i, [0, 1]), 0, 0);
});

gpuTest("[webgpu] a mapped long reduction with scalars (the map runs in the first pass only)", async (t) => {
  const [x, g] = both(data([50, 2000], 4));
  const map = input(0).mul(scalar(0)).add(scalar(1)).exp();
  // map(x) = exp(2x + 0.5) reduced over a long axis and over everything (the chunked path)
  for (const axes of [[1], [0, 1]]) {
    const run = (a: typeof x) => backendOf(a.device).reduce('sum', map, [a], [2, 0.5], a.shape, axes, 'float32');
    await close(t, run(g), run(x), 1e-3, 1e-5, `exp(2x + 0.5) summed over ${axes}`);
  }
});
