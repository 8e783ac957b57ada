// defineFusedKernel + precompile(): a declared chain's first step creates no pipeline (counted on WebGPU).

import test from 'ava';
import { input } from '../../compiler/expr.js';
import { exprsToJSON } from '../../compiler/serialize.js';
import { pipelineStats } from '../../runtime/array/webgpu/pipelines.js';
import { precompiled } from '../../runtime/fusion/background.js';
import { defineFusedKernel, precompile } from '../../runtime/fusion/declared.js';
import { Variable } from '../../runtime/graph/variable.js';
import '../../runtime/graph/backward.js';
import * as F from '../../runtime/ops/index.js';
import { allclose, countKernels, on, uniform, useDevices } from '../helpers.js';

const devices = await useDevices(test);

const [x, a, b] = [input(0), input(1), input(2)];
/** B3 as generated code would declare it: serialized IR, loaded at module load */
const b3 = defineFusedKernel({
  name: 'b3',
  ir: exprsToJSON([x.mul(a).add(b).tanh().mul(x.mul(0.5).tanh().mul(0.5).add(0.5)).add(x.mul(x).mul(0.5))]),
});

devices.gpu('precompile: a declared kernel\'s first step (forward and backward) creates zero pipelines', async (t) => {
  // b3's pipelines began in the background when the suite made its device (fusion/background.ts)
  const made = await precompile('webgpu') + await precompiled();
  t.true(made > 0, `precompile created ${made}`);
  const before = pipelineStats.created;
  for (const shape of [[4, 5], [7], [2, 3, 8]]) {
    const xs = [0, 1, 2].map((k) => on('webgpu', uniform(shape, 20 + k)));
    let y!: Variable;
    t.is(countKernels(() => { [y] = b3.apply(...xs); }), 1);
    const gy = new Variable(on('webgpu', uniform(shape, 30)).data, { requiresGrad: false });
    t.is(countKernels(() => y.creator!.backward([0, 1, 2], [gy])), 1);
  }
  t.is(pipelineStats.created - before, 0, 'pipelines created during the steps');
  t.is(await precompile('webgpu'), 0); // all exist now
});

/** B3 over one array, whose forward stores dy/dx (ops/elementwise.ts): two other kernels, made ahead too */
const b3one = defineFusedKernel({
  name: 'b3one',
  ir: exprsToJSON([x.mul(0.7).add(-0.3).tanh().mul(x.sigmoid()).add(x.mul(x).mul(0.5))]),
});

devices.gpu('precompile: a one-input chain whose forward stores dy/dx creates zero pipelines in its first step too', async (t) => {
  await precompile('webgpu');
  await precompiled();
  const before = pipelineStats.created;
  for (const shape of [[4, 5], [2048], [3, 1, 7]]) {
    const xv = on('webgpu', uniform(shape, 50));
    let y!: Variable;
    t.is(countKernels(() => { [y] = b3one.apply(xv); }), 1);
    t.is((y.creator as import('../../runtime/ops/elementwise.js').Elementwise).decision?.decision, 'store-derivative');
    y.grad = on('webgpu', uniform(shape, 51)).data;
    t.is(countKernels(() => y.backward()), 1);
  }
  t.is(pipelineStats.created - before, 0, 'pipelines created during the steps');
});

devices.each('defineFusedKernel: equals the same chain written with F, forward and gradients', async (t, device) => {
  const mk = () => [0, 1, 2].map((k) => on(device, uniform([3, 4], 40 + k)));
  const p = mk(), q = mk();
  const [y] = b3.apply(...p);
  const y0 = F.add(F.mul(F.tanh(F.add(F.mul(q[0], q[1]), q[2])), F.sigmoid(q[0])), F.mul(F.mul(q[0], q[0]), 0.5));
  const host = async (v: import('../../runtime/array/ndarray.js').NDArray) => (v.device === 'cpu' ? v : v.toCpu());
  allclose(t, await host(y.data), await host(y0.data), { atol: 1e-6, rtol: 1e-5 });
  F.sum(y).backward();
  F.sum(y0).backward();
  for (let i = 0; i < 3; i++) allclose(t, await host(p[i].grad!), await host(q[i].grad!), { atol: 1e-5, rtol: 1e-4 });
});

test('defineFusedKernel: wrong arguments are refused with the kernel name', (t) => {
  t.throws(() => b3.apply(on('cpu', uniform([2], 1))), { message: 'b3: expected 3 array(s) then 0 number(s), got 1 argument(s)' });
  t.throws(() => b3.apply(on('cpu', uniform([2], 1)), 2, on('cpu', uniform([2], 1))), { message: /^b3: argument 1 must be a Variable or NDArray, got / });
});

/** Two outputs of different shapes, as the transform declares a chain whose intermediate is used again: x*y (broadcast) and tanh(y) */
const mixed = defineFusedKernel({
  name: 'mixed',
  ir: exprsToJSON([x.mul(a), a.tanh()]),
  steps: ['mul(x=i0, y=i1)', 'tanh(x=i1)'],
  outputs: [0, 1],
});

devices.each('defineFusedKernel: outputs of different shapes run as a kernel per shape and equal F', async (t, device) => {
  const mk = () => [on(device, uniform([2, 3], 60)), on(device, uniform([3], 61))];
  const p = mk(), q = mk();
  const [y, z] = mixed.apply(...p);
  const [y0, z0] = [F.mul(q[0], q[1]), F.tanh(q[1])];
  t.deepEqual([y.shape, z.shape], [[2, 3], [3]]);
  const host = async (v: import('../../runtime/array/ndarray.js').NDArray) => (v.device === 'cpu' ? v : v.toCpu());
  allclose(t, await host(y.data), await host(y0.data), { atol: 1e-6, rtol: 1e-5 });
  allclose(t, await host(z.data), await host(z0.data), { atol: 1e-6, rtol: 1e-5 });
  F.add(F.sum(y), F.sum(z)).backward();
  F.add(F.sum(y0), F.sum(z0)).backward();
  for (let i = 0; i < 2; i++) allclose(t, await host(p[i].grad!), await host(q[i].grad!), { atol: 1e-5, rtol: 1e-4 });
});
