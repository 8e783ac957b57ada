// Kernel parameters go to the GPU once per batch, and not at all when it holds those bytes already.
// Its own file: ava runs a file's tests concurrently, and another test's kernels would change the bytes.

import test from 'ava';
import { input, scalar } from '../../compiler/expr.js';
import { NDArray } from '../../runtime/array/ndarray.js';
import { flush, queueStats } from '../../runtime/array/webgpu/queue.js';
import { elementwise } from '../../runtime/array/xp.js';
import { allclose, uniform, useDevices } from '../helpers.js';

const gpuUniform = (shape: readonly number[], seed: number) => new NDArray(new Float32Array(uniform(shape, seed).toFlat()), shape).toGpu();

const devices = await useDevices(test);
const x = input(0);

devices.gpu('a batch whose kernel parameters are those already on the GPU skips their upload; any change uploads them again', async (t) => {
  const a = gpuUniform([1030], 3), b = gpuUniform([517], 4);
  const [ha, hb] = [await a.data(), await b.data()];
  // x * x + c, c a runtime number (a uniform), each call submitted as a batch of its own
  const step = async (arr: NDArray, c: number, host: ArrayLike<number>) => {
    const before = queueStats.paramWrites;
    const [y] = elementwise([x.mul(x).add(scalar(0))], [arr], [c]);
    flush();
    const writes = queueStats.paramWrites - before;
    allclose(t, await y.data(), Array.from(host, (v) => v * v + c));
    return writes;
  };
  await step(a, 1, ha);
  t.is(await step(a, 1, ha), 0, 'the same kernel, size and number: the GPU holds these parameters already');
  t.is(await step(a, 2, ha), 1, 'another number');
  t.is(await step(b, 2, hb), 1, 'another size');
  t.is(await step(a, 2, ha), 1, 'back to the first size: uploaded again');
});

