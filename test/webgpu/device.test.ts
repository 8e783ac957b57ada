// The WebGPU device from a user's side: one program on both devices, and clear errors when things go wrong.

import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { array, getArrayModule, type NDArray } from '../../runtime/index.js';
import { allocate } from '../../runtime/array/webgpu/memory.js';
import { pipeline } from '../../runtime/array/webgpu/pipelines.js';
import { currentDevice } from '../../runtime/array/webgpu/device.js';
import { allclose, useDevices } from '../helpers.js';

const devices = await useDevices(test);
const run = promisify(execFile);

/** Chainer's slide-34 softmax, written once against the array module of its input. */
function softmax(x: NDArray): NDArray {
  const xp = getArrayModule(x);
  const y = xp.exp(xp.subtract(x, xp.max(x, 1, true)));
  return xp.divide(y, xp.sum(y, 1, true));
}

devices.each('getArrayModule: the slide-34 softmax runs unchanged and matches a plain-JS softmax', async (t, device) => {
  const rows = [[1, 2, 3, 4], [-5, 0, 5, 1000], [0.5, 0.5, 0.5, 0.5]];
  const x = array(rows).to(device);
  const y = softmax(x);
  t.is(y.device, device);
  t.is(getArrayModule(x).device, device);
  const expected = rows.flatMap((r) => {
    const m = Math.max(...r);
    const e = r.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
  allclose(t, await y.data(), expected, { atol: 1e-6, rtol: 1e-5 });
  t.is(getArrayModule(x).zeros([2]).device, device);
});

devices.gpu('a software adapter (lavapipe, SwiftShader) is known as one: elementwise kernels then launch few, large blocks', (t) => {
  const ctx = currentDevice();
  t.is(ctx.software, /llvmpipe|lavapipe|swiftshader/i.test(ctx.adapterName), ctx.adapterName);
});

devices.gpu('bad input: an array larger than the device allows names its size and the limit', (t) => {
  const limit = currentDevice().limits.maxStorageBufferBindingSize;
  t.throws(() => allocate(limit, 'float32'), { message: /webgpu: an array of \d+ elements \(\d+ bytes\) exceeds the device's largest buffer \(\d+ bytes\)/ });
});

devices.gpu('bad input: float64 arrays are refused on the GPU, saying why', (t) => {
  t.throws(() => array(new Float64Array([1, 2])).toGpu(), { message: /webgpu: float64 arrays are not supported on the GPU \(WGSL has no f64\)/ });
});

devices.gpu('bad input: a kernel that fails to compile is reported with its name and the line', async (t) => {
  pipeline('broken_kernel', '@compute @workgroup_size(1) fn main() { let x: f32 = undefined_name; }');
  // WebGPU reports compilation asynchronously: the next use of the device throws it
  await new Promise((r) => setTimeout(r, 200));
  await currentDevice().device.queue.onSubmittedWorkDone();
  const err = t.throws(() => pipeline('another', '@compute @workgroup_size(1) fn main() {}'));
  t.regex(err!.message, /webgpu: kernel broken_kernel failed to compile: line 1:\d+ .*undefined_name/);
});

devices.gpu('mnist --device webgpu trains a little and the process exits by itself', async (t) => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/mnist/train.ts', '--device', 'webgpu', '--epochs', '1', '--limit', '500'], { timeout: 120_000 });
  t.regex(stdout, /device webgpu/);
  t.regex(stdout, /final test accuracy \d+\.\d{2}%/);
});
