// fuse(fn): data reads refused by name, eager ops in place, graph semantics and double backward as unfused.

import test from 'ava';
import type { NDArray } from '../../runtime/array/ndarray.js';
import { fuse } from '../../runtime/fusion/fuse.js';
import { noBackprop } from '../../runtime/graph/config.js';
import { Variable } from '../../runtime/graph/variable.js';
import '../../runtime/graph/backward.js';
import * as F from '../../runtime/ops/index.js';
import { Elementwise } from '../../runtime/ops/elementwise.js';
import { allclose, countKernels, on, uniform, useDevices } from '../helpers.js';

const devices = await useDevices(test);

/** The chain B3: tanh(x*a + b) * sigmoid(x) + x*x*0.5 */
const b3 = (x: Variable, a: Variable, b: Variable) => F.add(F.mul(F.tanh(F.add(F.mul(x, a), b)), F.sigmoid(x)), F.mul(F.mul(x, x), 0.5));

const host = async (x: NDArray) => (x.device === 'cpu' ? x : x.toCpu());

test('fuse: reading a value inside fn throws an error naming fuse and the reason', (t) => {
  const x = on('cpu', uniform([3], 1));
  t.throws(() => fuse((v: Variable) => F.tanh(v).data.toArray())(x), { message: /^fuse: the function reads an array's values \(toArray\(\)\) while it is traced/ });
  t.throws(() => fuse((v: Variable) => F.tanh(v).itemSync())(x), { message: /^fuse: the function reads an array's values \(itemSync\(\)\)/ });
  t.throws(() => fuse((v: Variable) => F.tanh(v).data.toFlat())(x), { message: /^fuse: .*\(toFlat\(\)\).*may not depend on data/ });
});

test('fuse: awaiting x.item() inside fn rejects with an error naming fuse and the reason', async (t) => {
  const x = on('cpu', uniform([1], 2));
  await t.throwsAsync(fuse(async (v: Variable) => (await F.tanh(v).item()) > 0 ? v : F.neg(v))(x) as Promise<Variable>,
    { message: /^fuse: the function reads an array's values \(item\(\)\)/ });
});

test('fuse: a branch on data (comparing a Variable) throws an error naming fuse and the reason', (t) => {
  const x = on('cpu', uniform([1], 3));
  t.throws(() => fuse((v: Variable) => ((F.tanh(v) as unknown as number) > 0 ? v : F.neg(v)))(x),
    { message: /^fuse: the function compares or converts a Variable as a number \(a branch on data/ });
  // and outside fuse nothing is changed
  t.is(F.tanh(x).data.toFlat().length, 1);
});

test('fuse: a shape error names the original op and argument, as unfused code would', (t) => {
  const x = on('cpu', uniform([2, 3], 4)), y = on('cpu', uniform([4], 5));
  const f = fuse((p: Variable, q: Variable) => F.tanh(F.mul(F.exp(p), q)));
  const unfused = t.throws(() => F.tanh(F.mul(F.exp(x), y)))!.message;
  t.is(t.throws(() => f(x, y))!.message, unfused);
  t.is(unfused, 'mul: shapes do not broadcast: x (2, 3), y (4,)');
});

devices.gpu('fuse: a device mismatch names the original op and each argument\'s device, a deferred value by its leaves\' device', (t) => {
  const x = on('webgpu', uniform([2, 3], 6)), y = on('cpu', uniform([2, 3], 7));
  const f = fuse((p: Variable, q: Variable) => F.mul(F.exp(p), F.tanh(q)));
  const unfused = t.throws(() => F.mul(F.exp(x), F.tanh(y)))!.message;
  t.is(t.throws(() => f(x, y))!.message, unfused);
  t.regex(unfused, /^mul: inputs are on different devices \(x on webgpu, y on cpu\)/);
});

devices.each('fuse: B3 runs as one dispatch forward and one backward, equal to unfused', async (t, device) => {
  const mk = () => [on(device, uniform([4, 5], 6)), on(device, uniform([4, 5], 7)), on(device, uniform([4, 5], 8))];
  const [x0, a0, b0] = mk(), [x1, a1, b1] = mk();
  const f = fuse(b3);
  const y0 = b3(x0, a0, b0);
  let y1!: Variable;
  t.is(countKernels(() => { y1 = f(x1, a1, b1); }), 1);
  t.true(y1.creator instanceof Elementwise);
  t.is(y1.creator!.label, 'fused(mul,add,tanh,sigmoid)');
  allclose(t, await host(y1.data), await host(y0.data), { atol: 1e-6, rtol: 1e-5 });
  const gy = new Variable(on(device, uniform([4, 5], 9)).data, { requiresGrad: false });
  t.is(countKernels(() => y1.creator!.backward([0, 1, 2], [gy])), 1);
  F.sum(F.mul(y0, gy)).backward();
  F.sum(F.mul(y1, gy)).backward();
  for (const [p, q] of [[x1, x0], [a1, a0], [b1, b0]]) allclose(t, await host(p.grad!), await host(q.grad!), { atol: 1e-5, rtol: 1e-4 });
});

devices.each('fuse: double backward through a fused node equals the unfused one', async (t, device) => {
  const run = (fused: boolean) => {
    const [x, a, b] = [on(device, uniform([3, 4], 10)), on(device, uniform([3, 4], 11)), on(device, uniform([3, 4], 12))];
    const y = (fused ? fuse(b3) : b3)(x, a, b);
    F.sum(y).backward({ enableDoubleBackprop: true });
    const gx = x.gradVar!;
    x.cleargrad(); a.cleargrad(); b.cleargrad();
    F.sum(F.mul(gx, gx)).backward();
    return [x.grad!, a.grad!, b.grad!];
  };
  const want = run(false), got = run(true);
  for (let i = 0; i < 3; i++) allclose(t, await host(got[i]), await host(want[i]), { atol: 1e-5, rtol: 1e-4 });
});

devices.each('fuse: a non-elementwise op runs eagerly in place, splitting the chain into fused regions', async (t, device) => {
  const [x, w] = [on(device, uniform([3, 4], 13)), on(device, uniform([4, 2], 14))];
  const g = (p: Variable, q: Variable) => F.sigmoid(F.mul(F.matmul(F.tanh(F.mul(p, 2)), q), F.exp(F.matmul(p, q))));
  const f = fuse(g);
  const y1 = f(x, w);
  t.is(f.stats.regions, 2); // tanh(2x) before the matmul; sigmoid(m1 * exp(m2)) after it
  const [x0, w0] = [on(device, uniform([3, 4], 13)), on(device, uniform([4, 2], 14))];
  const y0 = g(x0, w0);
  allclose(t, await host(y1.data), await host(y0.data), { atol: 1e-6, rtol: 1e-5 });
  F.sum(y1).backward();
  F.sum(y0).backward();
  allclose(t, await host(x.grad!), await host(x0.grad!), { atol: 1e-5, rtol: 1e-4 });
  allclose(t, await host(w.grad!), await host(w0.grad!), { atol: 1e-5, rtol: 1e-4 });
});

test('fuse: noBackprop builds no graph, retainGrad keeps the outputs\' gradients, unchainBackward cuts above', (t) => {
  const x = on('cpu', uniform([3], 15));
  const f = fuse((v: Variable) => { const h = F.tanh(v); return [h, F.mul(h, h)]; });
  const [h0, y0] = noBackprop(() => f(x));
  t.is(y0.creator, null);
  t.is(h0.creator, null);
  t.false(y0.requiresGrad);
  const [h, y] = f(x);
  t.is(h.creator, y.creator); // one node, two outputs
  F.sum(F.mul(y, 3)).backward({ retainGrad: true });
  const hx = Array.from(h.data.toFlat());
  allclose(t, y.grad!, hx.map(() => 3));
  allclose(t, x.grad!, hx.map((v) => 6 * v * (1 - v * v)), { atol: 1e-6 });
  const node = y.creator!;
  y.unchainBackward();
  t.is(y.creator, null);
  t.is(h.creator, null); // the other output of the same node is cut too
  t.is(node.inputs.length, 0);
  // generation: one more than its inputs', as any node
  const [, z] = f(y);
  t.is(z.generation, y.generation + 1);
});

devices.each('fuse: traced once per signature; later calls run the traced node on their own arguments, values and gradients equal to unfused', async (t, device) => {
  let runs = 0;
  const f = fuse((x: Variable, a: Variable, b: Variable) => { runs++; return b3(x, a, b); });
  for (const [k, shape] of [[0, [4, 5]], [1, [4, 5]], [2, [4, 5]], [3, [7]], [4, [7]]] as const) {
    const mk = () => [on(device, uniform([...shape], 40 + 3 * k)), on(device, uniform([...shape], 41 + 3 * k)), on(device, uniform([...shape], 42 + 3 * k))];
    const [x0, a0, b0] = mk(), [x1, a1, b1] = mk();
    const y0 = b3(x0, a0, b0);
    let y1!: Variable;
    t.is(countKernels(() => { y1 = f(x1, a1, b1); }), 1, `call ${k}`);
    allclose(t, await host(y1.data), await host(y0.data), { atol: 1e-6, rtol: 1e-5 });
    F.sum(y0).backward();
    F.sum(y1).backward();
    for (const [p, q] of [[x1, x0], [a1, a0], [b1, b0]]) allclose(t, await host(p.grad!), await host(q.grad!), { atol: 1e-5, rtol: 1e-4 });
  }
  t.is(runs, 2, 'fn ran once for [4, 5] and once for [7]');
  t.deepEqual(f.stats, { calls: 5, traces: 2, regions: 5 });
  // the backprop mode is part of the signature: no graph under noBackprop, one after
  const x = on(device, uniform([7], 60));
  t.is(noBackprop(() => f(x, x, x)).creator, null);
  t.not(f(x, x, x).creator, null);
  t.is(runs, 4);
});

test('fuse: a number argument\'s value, aliased arguments and a closure\'s Variable each give the result of running fn again', (t) => {
  const x = on('cpu', uniform([6], 70)), y = on('cpu', uniform([6], 71));
  const xs = Array.from(x.data.toFlat()), ys = Array.from(y.data.toFlat());
  const scaled = fuse((v: Variable, s: number) => F.mul(F.tanh(v), s));
  allclose(t, scaled(x, 2).data, xs.map((v) => 2 * Math.tanh(v)), { atol: 1e-6 });
  allclose(t, scaled(x, 3).data, xs.map((v) => 3 * Math.tanh(v)), { atol: 1e-6 });
  // f(x, x) traces one leaf read twice; f(x, y) must not reuse that trace
  const axpy = fuse((p: Variable, q: Variable) => F.add(p, F.mul(q, 2)));
  allclose(t, axpy(x, x).data, xs.map((v) => 3 * v), { atol: 1e-6 });
  allclose(t, axpy(x, y).data, xs.map((v, i) => v + 2 * ys[i]), { atol: 1e-6 });
  t.is(axpy.stats.traces, 2);
  // a Variable read from a closure may be another one at the next call: fn runs again
  let h = y;
  const withH = fuse((v: Variable) => F.add(v, h));
  allclose(t, withH(x).data, xs.map((v, i) => v + ys[i]), { atol: 1e-6 });
  h = x;
  allclose(t, withH(x).data, xs.map((v) => 2 * v), { atol: 1e-6 });
  t.is(withH.stats.traces, 2);
  // several nodes (a matmul between two regions) are not replayed either
  const w = on('cpu', uniform([6, 6], 72));
  const split = fuse((v: Variable, m: Variable) => F.tanh(F.matmul(F.reshape(F.exp(v), [1, 6]), m)));
  split(x, w);
  split(x, w);
  t.deepEqual(split.stats, { calls: 2, traces: 2, regions: 4 });
});
