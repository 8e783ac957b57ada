// A one-output chain whose forward stores dy/dx: values, dispatch counts, memory held by the node only, noBackprop and double backward.

import test from 'ava';
import { input } from '../../compiler/expr.js';
import type { NDArray } from '../../runtime/array/ndarray.js';
import { memory } from '../../runtime/array/webgpu/memory.js';
import { scope } from '../../runtime/devices.js';
import { fuse } from '../../runtime/fusion/fuse.js';
import { noBackprop } from '../../runtime/graph/config.js';
import { Variable } from '../../runtime/graph/variable.js';
import '../../runtime/graph/backward.js';
import * as F from '../../runtime/ops/index.js';
import { Elementwise } from '../../runtime/ops/elementwise.js';
import { allclose, countKernels, on, uniform, useDevices } from '../helpers.js';

const devices = await useDevices(test);
const host = async (x: NDArray) => Array.from(await x.data());

const A = 0.7, B = -0.3;
/** The bench's B3 over one array: tanh(0.7 x - 0.3) sigmoid(x) + x x / 2 */
const b3 = (x: Variable) => F.add(F.mul(F.tanh(F.add(F.mul(x, A), B)), F.sigmoid(x)), F.mul(F.mul(x, x), 0.5));

/** y and dy/dx in float64, written out by hand (bench/fusion.ts's one-loop formula). */
function b3Ref(v: number): { y: number; dy: number } {
  const t = Math.tanh(v * A + B), s = 1 / (1 + Math.exp(-v));
  return { y: t * s + v * v * 0.5, dy: (1 - t * t) * A * s + t * s * (1 - s) + v };
}

devices.each('B3: the forward writes y and dy/dx in one dispatch, the backward is gy * d in one, equal to float64', async (t, device) => {
  const n = 1030; // a tail past the last whole vec4
  const x = on(device, uniform([n], 1, -4, 4));
  const gy = on(device, uniform([n], 2), { requiresGrad: false });
  const f = fuse(b3);
  let y!: Variable;
  t.is(countKernels(() => { y = f(x); }), 1, 'forward: one dispatch for both arrays');
  const node = y.creator as Elementwise;
  t.true(node instanceof Elementwise);
  t.is(node.decision?.decision, 'store-derivative', node.decision?.why);
  t.is(node.retainedArrays.length, 1, 'the node holds dy/dx');
  // reading y sends the forward to the device: the backward then reads dy/dx
  const ys = await host(y.data);
  y.grad = gy.data;
  t.is(countKernels(() => y.backward()), 1, 'backward: gy * d');
  const xs = await host(x.data), gys = await host(gy.data);
  allclose(t, ys, xs.map((v) => b3Ref(v).y), { atol: 1e-5, rtol: 1e-5 });
  allclose(t, await host(x.grad!), xs.map((v, i) => gys[i] * b3Ref(v).dy), { atol: 1e-5, rtol: 1e-4 });
  // and the same as the unfused ops, whose nodes recompute
  const x0 = on(device, uniform([n], 1, -4, 4));
  const y0 = b3(x0);
  y0.grad = gy.data;
  y0.backward();
  allclose(t, await host(x.grad!), await host(x0.grad!), { atol: 1e-5, rtol: 1e-4 });
});

devices.each('a backward straight after the forward takes its place on WebGPU: ONE kernel writes y and gx, and a second backward recomputes', async (t, device) => {
  const n = 1030;
  const x = on(device, uniform([n], 11, -4, 4));
  const gy = on(device, uniform([n], 12), { requiresGrad: false });
  const f = fuse(b3);
  f(x); // pipelines made before counting
  let y!: Variable;
  const both = countKernels(() => {
    y = f(x);
    y.grad = gy.data;
    y.backward();
  });
  const node = y.creator as Elementwise;
  // the CPU runs each kernel at once: nothing is left to replace there
  t.is(both, device === 'webgpu' ? 1 : 2, 'forward and backward');
  t.is(node.retainedArrays.length, device === 'webgpu' ? 0 : 1, 'dy/dx: never written when replaced');
  const xs = await host(x.data), gys = await host(gy.data);
  allclose(t, await host(y.data), xs.map((v) => b3Ref(v).y), { atol: 1e-5, rtol: 1e-5 });
  allclose(t, await host(x.grad!), xs.map((v, i) => gys[i] * b3Ref(v).dy), { atol: 1e-5, rtol: 1e-4 });
  // a second backward of the same graph: recomputed from x (webgpu) or gy * d (cpu), one kernel, same gradient, accumulated
  const first = await host(x.grad!);
  t.is(countKernels(() => y.backward()), 2, 'the gradient, and its sum with the first');
  allclose(t, await host(x.grad!), first.map((g) => 2 * g), { atol: 1e-5, rtol: 1e-4 });
});

devices.each('anything recorded between forward and backward sends the forward to the device: two kernels, same values', async (t, device) => {
  const x = on(device, uniform([257], 13, -4, 4));
  const gy = on(device, uniform([257], 14), { requiresGrad: false });
  const f = fuse(b3);
  let y!: Variable, z!: Variable;
  const count = countKernels(() => {
    y = f(x);
    z = F.mul(y, 3); // uses y: its values must exist
    y.grad = gy.data;
    y.backward();
  });
  t.is(count, 3, 'forward, the product, gy * d');
  const xs = await host(x.data), gys = await host(gy.data);
  allclose(t, await host(z.data), xs.map((v) => 3 * b3Ref(v).y), { atol: 1e-5, rtol: 1e-5 });
  allclose(t, await host(x.grad!), xs.map((v, i) => gys[i] * b3Ref(v).dy), { atol: 1e-5, rtol: 1e-4 });
});

devices.each('noBackprop, or no input wanting a gradient: the forward stores nothing', async (t, device) => {
  const expr = input(0).mul(A).add(B).tanh().mul(input(0).sigmoid()).add(input(0).mul(input(0)).mul(0.5));
  const x = on(device, uniform([64], 3));
  const off = new Elementwise('b3', [expr], [], ['x']);
  noBackprop(() => off.apply([x]));
  t.is(off.decision, null);
  t.is(off.retainedArrays.length, 0);
  const constant = new Elementwise('b3', [expr], [], ['x']);
  constant.apply([on(device, uniform([64], 3), { requiresGrad: false })]);
  t.is(constant.decision, null);
  t.is(constant.retainedArrays.length, 0);
  // two outputs: the rule declines, and says why
  const two = new Elementwise('b3', [expr, input(0).tanh()], [], ['x']);
  two.apply([x]);
  t.is(two.decision?.decision, 'recompute');
  t.regex(two.decision!.why, /^2 outputs/);
  t.is(two.retainedArrays.length, 0);
});

devices.each('the stored derivative lives with the node: unchainBackward drops it, and scope() gives its memory back', async (t, device) => {
  const x = on(device, uniform([4096], 4));
  const f = fuse(b3);
  const y = f(x);
  const node = y.creator as Elementwise;
  t.is(node.retainedArrays.length, 1);
  y.unchainBackward();
  t.is(node.retainedArrays.length, 0, 'unchained: nothing kept');
  if (device !== 'webgpu') return;
  f(x); // the pipelines and pool buckets exist before counting
  const before = memory().inUse;
  scope(() => {
    const z = f(x);
    t.true(memory().inUse >= before + 2 * 4096 * 4, 'y and dy/dx while the step runs');
    z.grad = F.mul(z, 0).data; // a gradient of zeros: the backward runs as gy * d
    z.backward();
  });
  t.is(memory().inUse, before, 'y, dy/dx and the gradients all given back');
});

devices.each('double backward through a storing node takes the symbolic path and equals the unfused one', async (t, device) => {
  const run = (fused: boolean) => {
    const x = on(device, uniform([3, 5], 5, -3, 3));
    const y = (fused ? fuse(b3) : b3)(x);
    if (fused) t.is((y.creator as Elementwise).decision?.decision, 'store-derivative');
    F.sum(y).backward({ enableDoubleBackprop: true });
    const gx = x.gradVar!;
    t.not(gx.creator, null, 'the first gradient is itself recorded');
    x.cleargrad();
    F.sum(F.mul(gx, gx)).backward();
    return x.grad!;
  };
  const want = run(false), got = run(true);
  allclose(t, await host(got), await host(want), { atol: 1e-5, rtol: 1e-4 });
});

test('bad input to a node that would store: the errors unfused code gives, nothing run', (t) => {
  const expr = input(0).mul(A).add(B).tanh().mul(input(1));
  const x = on('cpu', uniform([3], 6));
  const before = countKernels(() => {
    t.throws(() => new Elementwise('b3', [expr], [], ['x', 'y']).apply([x, on('cpu', uniform([2], 7))]), { message: 'b3: shapes do not broadcast: x (3,), y (2,)' });
    t.throws(() => new Elementwise('b3', [expr], [], ['x', 'y']).apply([x, 'oops' as never]), { message: 'expected a Variable, NDArray or number, got string' });
  });
  t.is(before, 0);
});
