// A chain needing more storage buffers than the device binds per stage runs split into kernels that fit.

import test from 'ava';
import { input } from '../../compiler/expr.js';
import { backendOf } from '../../runtime/array/backend.js';
import { NDArray } from '../../runtime/array/ndarray.js';
import { currentDevice } from '../../runtime/array/webgpu/device.js';
import { useDevice } from '../../runtime/array/webgpu/index.js';
import { allclose, countKernels, useDevices } from '../helpers.js';

const devices = await useDevices(test.serial);
// Dawn crashes if its instance is collected while a device lives: hold the GPU and adapter
const held: object[] = [];

devices.gpu('6 inputs and 6 outputs on a device with the default 8 buffers per stage: split by outputs, same values', async (t) => {
  // a device with WebGPU's default limits, from a fresh adapter of the GPU the harness found
  // (an adapter gives one device only)
  const gpu = currentDevice().owners.find((o): o is GPU => 'requestAdapter' in o);
  const adapter = await gpu?.requestAdapter();
  if (adapter === undefined || adapter === null) return t.fail('no GPU among the device owners');
  held.push(gpu!, adapter);
  await useDevice(await adapter.requestDevice());
  t.is(currentDevice().limits.maxStorageBuffersPerShaderStage, 8);
  const xs = [0, 1, 2, 3, 4, 5].map(input);
  const roots = xs.map((x, k) => x.mul(xs[(k + 1) % 6]).add(k));
  const vals = xs.map((_, k) => new NDArray(Float32Array.from({ length: 37 }, (_, i) => Math.sin(i + k)), [37]));
  let out: NDArray[] = [];
  const n = countKernels(() => (out = backendOf('webgpu').elementwise(roots, vals.map((v) => v.toGpu()), [], [37], 'float32')));
  t.true(n >= 2 && n <= 6, `${n} dispatches`);
  const ref = backendOf('cpu').elementwise(roots, vals, [], [37], 'float32');
  for (let j = 0; j < 6; j++) allclose(t, await out[j].data(), ref[j].toFlat());
  // one root reading more arrays than fit cannot be split: said, not a pipeline error
  const wide = [0, 1, 2, 3, 4, 5, 6, 7].map(input).reduce((s, x) => s.add(x));
  const eight = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => vals[k % 6].toGpu());
  t.throws(() => backendOf('webgpu').elementwise([wide, wide.neg()], eight, [], [37], 'float32'), {
    message: 'webgpu: elementwise root 0 reads 8 arrays; with its output that is more than the 8 storage buffers this device binds per kernel',
  });
});
