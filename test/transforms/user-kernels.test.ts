// User ElementwiseKernels declared at module level with literal strings join chains: same values, gradients and errors as unfused, one node.

import test from 'ava';
import type { NDArray } from '../../runtime/array/ndarray.js';
import type { Variable } from '../../runtime/graph/variable.js';
import { Elementwise } from '../../runtime/ops/elementwise.js';
import '../../runtime/index.js';
import { allclose, on, uniform, useDevices } from '../helpers.js';
import { RUNTIME, load, transform } from './helpers.js';

const SOURCE = `import { ElementwiseKernel, F, Variable } from ${JSON.stringify(RUNTIME)};

const squaredDiff = new ElementwiseKernel('T x, T y', 'T z', 'z = (x - y) * (x - y)', 'squared_diff');
const gate = new ElementwiseKernel('T x, float32 k', 'T y', 'y = x > 0 ? x * k : tanh(x)', 'gate');

export function forward(x: Variable, t: Variable, w: Variable) {
  const d = squaredDiff.call(F.tanh(x.mul(w)), t);
  return gate.call(d.mul(0.5).sub(x), 3).exp();
}
`;
type Fn = (x: Variable, t: Variable, w: Variable) => Variable;
const out = transform('test/transforms/user-kernels-source.ts', SOURCE, { runtimeImport: RUNTIME });
const plain = (await load<{ forward: Fn }>(SOURCE)).forward;
const built = (await load<{ forward: Fn }>(out.code)).forward;
const devices = await useDevices(test);
const host = async (x: NDArray) => (x.device === 'cpu' ? x : x.toCpu());

test('user kernels: both kernels joined the one chain', (t) => {
  t.is(out.report.chains.length, 1, out.code);
  t.deepEqual(out.report.chains[0].ops, ['mul', 'tanh', 'squared_diff', 'mul', 'sub', 'gate', 'exp']);
  t.regex(out.code, /kernels: \[\["T x, T y","T z","z = \(x - y\) \* \(x - y\)","squared_diff"\],\["T x, float32 k","T y","y = x > 0 \? x \* k : tanh\(x\)","gate"\]\]/);
});

devices.each('user kernels: values and gradients equal the unfused run, from one node', async (t, device) => {
  const x = on(device, uniform([2, 3], 1), { requiresGrad: true }), tt = on(device, uniform([2, 3], 2)), w = on(device, uniform([3], 3), { requiresGrad: true });
  const y0 = plain(x, tt, w), y1 = built(x, tt, w);
  t.true(y1.creator instanceof Elementwise);
  t.is((y1.creator as Elementwise).inputs.length, 3);
  allclose(t, await host(y1.data), await host(y0.data), { atol: 1e-5, rtol: 1e-4 });
  const grads: NDArray[] = [];
  for (const y of [y0, y1]) {
    x.cleargrad();
    w.cleargrad();
    y.sum().backward();
    grads.push(x.grad!, w.grad!);
  }
  allclose(t, await host(grads[2]), await host(grads[0]), { atol: 1e-5, rtol: 1e-4 });
  allclose(t, await host(grads[3]), await host(grads[1]), { atol: 1e-5, rtol: 1e-4 });
});

devices.each('user kernels: a bad shape at the kernel throws the kernel\'s own message', (t, device) => {
  const x = on(device, uniform([2, 3], 1)), bad = on(device, uniform([4], 2)), w = on(device, uniform([3], 3));
  const e0 = t.throws(() => plain(x, bad, w))!;
  const e1 = t.throws(() => built(x, bad, w))!;
  t.is(e1.message, e0.message);
  t.regex(e1.message, /^squared_diff: /);
});
