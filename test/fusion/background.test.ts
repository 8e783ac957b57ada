// Background precompile: declared kernels start their pipelines when a device exists, and a step waits for them instead of compiling again.

import test from 'ava';
import { input } from '../../compiler/expr.js';
import { exprsToJSON } from '../../compiler/serialize.js';
import { array } from '../../runtime/array/xp.js';
import type { NDArray } from '../../runtime/array/ndarray.js';
import { initWebGpu, releaseWebGpu } from '../../runtime/array/webgpu/index.js';
import { compileStats, precompiled } from '../../runtime/fusion/background.js';
import { defineFusedKernel, precompile } from '../../runtime/fusion/declared.js';
import { Variable } from '../../runtime/graph/variable.js';
import '../../runtime/graph/backward.js';
import '../../runtime/ops/index.js';
import { allclose, on, uniform, useDevices } from '../helpers.js';

const [a, b, c] = [input(0), input(1), input(2)];

// Declared before any device exists, as a built app's generated module does at load. The
// constants make each chain's kernels this file's own (no other code compiled them before).
const early = defineFusedKernel({ name: 'early', ir: exprsToJSON([a.mul(b).add(c.mul(0.375)).tanh()]) });
const earlyRef = (x: number, y: number, z: number) => Math.tanh(x * y + z * 0.375);

const devices = await useDevices(test);

const host = async (v: NDArray) => (v.device === 'cpu' ? v : v.toCpu());
const diff = (before: ReturnType<typeof compileStats>) => {
  const now = compileStats();
  return { onDemand: now.onDemand - before.onDemand, awaited: now.awaited - before.awaited, created: now.created - before.created };
};

/** Forward, backward and a read of a declared kernel's step: what a first training step does with it. */
async function step(kernel: typeof early, shape: number[], seed: number) {
  const xs = [0, 1, 2].map((k) => on('webgpu', uniform(shape, seed + k)));
  const [y] = kernel.apply(...xs);
  const gy = new Variable(on('webgpu', uniform(shape, seed + 9)).data, { requiresGrad: false });
  const gxs = y.creator!.backward([0, 1, 2], [gy]);
  const cpu = await Promise.all(xs.map((x) => host(x.data)));
  return { y: await host(y.data), gxs: await Promise.all(gxs.map((g) => host(g!.data))), cpu, gy: await host(gy.data) };
}

devices.gpu('declared before the device: its pipelines start when initWebGpu() makes one, and its first step compiles none', async (t) => {
  t.true(compileStats().background.started >= 1, 'the early kernel started on the device the suite acquired');
  const before = compileStats();
  const { y, cpu } = await step(early, [3, 5], 10);
  const [x, w, z] = cpu.map((v) => v.toArray() as number[][]);
  allclose(t, y, x.map((r, i) => r.map((v, j) => earlyRef(v, w[i][j], z[i][j]))), { atol: 1e-6, rtol: 1e-5 });
  t.is(diff(before).onDemand, 0, 'pipelines compiled on demand in the first step');
});

test.serial('declared after the device: a step right away waits for the pipelines in flight, in order with the work around it', async (t) => {
  if (!devices.status.available) return t.pass();
  await precompiled(); // `early` is ready; `late` below is not
  const before = compileStats();
  const late = defineFusedKernel({ name: 'late', ir: exprsToJSON([a.sub(b.mul(0.625)).mul(c).tanh().mul(0.5).add(0.5)]) });
  const shape = [4, 6];
  const xs = [0, 1, 2].map((k) => on('webgpu', uniform(shape, 40 + k)));
  const [y] = late.apply(...xs); // waits for late's pipeline: recorded, replayed later
  // an upload after it must not overtake it, and must keep the values it had when called
  const data = new Float32Array(24).fill(0.5);
  const w = new Variable(array(data, shape).toGpu());
  data.fill(100);
  const [u] = early.apply(y, w, xs[0]); // ready, but queued behind the waiting dispatch
  const got = await host(u.data);
  const d = diff(before);
  t.is(d.onDemand, 0, 'late compiled on demand');
  t.true(d.awaited >= 1, `dispatches that waited: ${d.awaited}`);
  const [p, q, r] = (await Promise.all(xs.map((x) => host(x.data)))).map((v) => v.toArray() as number[][]);
  const sig = (v: number) => Math.tanh(v) * 0.5 + 0.5;
  const want = p.map((row, i) => row.map((v, j) => earlyRef(sig((v - q[i][j] * 0.625) * r[i][j]), 0.5, v)));
  allclose(t, got, want, { atol: 1e-6, rtol: 1e-5 });
});

test.serial('precompiled() resolves once the background is done; precompile() then has nothing left to make', async (t) => {
  if (!devices.status.available) return t.pass();
  const made = compileStats().background.created;
  defineFusedKernel({ name: 'third', ir: exprsToJSON([a.add(b).mul(c).exp().mul(0.875)]) });
  // its forward and backward variants, all made in the background
  t.true(await precompiled() > made);
  t.is(await precompile('webgpu'), 0);
});

test.serial('a new device after releaseWebGpu(): every declared kernel starts again there, and a first step compiles none', async (t) => {
  if (!devices.status.available) return t.pass();
  const started = compileStats().background.started;
  releaseWebGpu();
  await initWebGpu();
  t.true(compileStats().background.started - started >= 3, 'early, late and third restarted');
  const before = compileStats();
  const { y, cpu } = await step(early, [7], 60);
  const [x, w, z] = cpu.map((v) => v.toArray() as number[]);
  allclose(t, y, x.map((v, i) => earlyRef(v, w[i], z[i])), { atol: 1e-6, rtol: 1e-5 });
  t.is(diff(before).onDemand, 0);
});

test.serial('work waiting for a pipeline when the device is released is dropped with it; the next device runs the kernel', async (t) => {
  if (!devices.status.available) return t.pass();
  const dropped = defineFusedKernel({ name: 'dropped', ir: exprsToJSON([a.mul(c).sub(b.mul(0.125)).tanh()]) });
  dropped.apply(...[0, 1, 2].map((k) => on('webgpu', uniform([4], 80 + k)))); // waits for its pipeline
  releaseWebGpu();
  await initWebGpu();
  const before = compileStats();
  const { y, cpu } = await step(dropped, [2, 3], 90);
  const [x, w, z] = cpu.map((v) => v.toArray() as number[][]);
  allclose(t, y, x.map((r, i) => r.map((v, j) => Math.tanh(v * z[i][j] - w[i][j] * 0.125))), { atol: 1e-6, rtol: 1e-5 });
  t.is(diff(before).onDemand, 0);
});
