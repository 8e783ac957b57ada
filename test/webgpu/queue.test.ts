// The WebGPU queue holds its last dispatch back until the next queue operation: replaceLast may take its place, nothing else can tell.

import test from 'ava';
import { input } from '../../compiler/expr.js';
import { backendOf } from '../../runtime/array/backend.js';
import { NDArray } from '../../runtime/array/ndarray.js';
import { elementwise } from '../../runtime/array/xp.js';
import { allclose, countKernels, uniform, useDevices } from '../helpers.js';

/** float32 on the GPU (the helpers sample float64) */
const gpuUniform = (shape: readonly number[], seed: number) => new NDArray(new Float32Array(uniform(shape, seed).toFlat()), shape).toGpu();

const devices = await useDevices(test);
const x = input(0);

devices.gpu('replaceLast: the held kernel never runs, its replacement writes the same output and more, in one dispatch', async (t) => {
  const a = gpuUniform([1030], 1);
  const host = await a.data();
  const webgpu = backendOf('webgpu');
  let y!: NDArray, more: NDArray[] | null = null;
  const n = countKernels(() => {
    [y] = elementwise([x.mul(2)], [a]);
    // a different root 0 shows which kernel wrote y
    more = webgpu.replaceLast!(y, [x.mul(3), x.add(1)], [a], []);
  });
  t.is(n, 1, 'the withdrawn dispatch is not counted');
  t.not(more, null);
  allclose(t, await y.data(), Array.from(host, (v) => 3 * v));
  t.is(more![0], y, 'out first, then the fresh arrays');
  allclose(t, await more![1].data(), Array.from(host, (v) => v + 1));
  t.is(webgpu.replaceLast!(y, [x.mul(3)], [a], []), null, 'too late: it was read, and replaced once already');
});

devices.gpu('replaceLast is refused once anything else is recorded, read or written after the kernel, which then runs as recorded', async (t) => {
  const a = gpuUniform([64], 2);
  const host = await a.data();
  const webgpu = backendOf('webgpu');
  const after: [string, (y: NDArray) => unknown][] = [
    ['another kernel', () => elementwise([x.neg()], [a])],
    ['an upload', () => new NDArray(new Float32Array(8), [8]).toGpu()],
    ['a read of another array', () => a.data()],
  ];
  for (const [what, op] of after) {
    const [y] = elementwise([x.mul(2)], [a]);
    await op(y);
    t.is(webgpu.replaceLast!(y, [x.mul(3)], [a], []), null, what);
    allclose(t, await y.data(), Array.from(host, (v) => 2 * v));
  }
  // an input in the output's buffer would be read before anything was written there
  const [y] = elementwise([x.mul(2)], [a]);
  t.is(webgpu.replaceLast!(y, [x.mul(3)], [y], []), null, 'reads its own output');
  allclose(t, await y.data(), Array.from(host, (v) => 2 * v));
});

test('the CPU runs every kernel at once: nothing to replace', (t) => {
  t.is(backendOf('cpu').replaceLast, undefined);
});
