// The recorded graph: backward order by generation, accumulation, retainGrad, unchain, double backward.

import test from 'ava';
import { FunctionNode, NDArray, Variable, array, F } from '../../runtime/index.js';
import { allclose } from '../helpers.js';

const scalar = (v: number) => new Variable(array([v], [], 'float64'));
const f64 = (v: number[], shape?: number[]) => new Variable(array(v, shape ?? [v.length], 'float64'));

/** y = k x that logs its label when its backward runs, to observe the order. */
class Scale extends FunctionNode {
  constructor(readonly label: string, private readonly k: number, private readonly log: string[]) { super(); }
  forward([x]: readonly NDArray[]): NDArray[] { return [F.mul(x, this.k).data]; }
  backward(_: readonly number[], [gy]: readonly Variable[]): Variable[] {
    this.log.push(this.label);
    return [F.mul(gy, this.k)];
  }
}

test('diamond: x -> a, b -> c gives dc/dx summed over both paths', (t) => {
  const x = scalar(1.5);
  const a = F.mul(x, x); // x^2
  const b = F.mul(x, 3); // 3x
  const c = F.mul(a, b); // 3x^3
  c.backward();
  allclose(t, c.data, 3 * 1.5 ** 3);
  allclose(t, x.grad!, 9 * 1.5 ** 2, { atol: 1e-12 });
});

test('diamond: a node runs only after every consumer of its outputs (by generation), once', (t) => {
  const log: string[] = [];
  const x0 = scalar(1);
  const [x] = new Scale('pre', 2, log).apply([x0]); // generation 1
  const [a] = new Scale('a', 3, log).apply([x]); // 2
  const [a2] = new Scale('a2', 5, log).apply([a]); // 3: the long branch
  const [b] = new Scale('b', 7, log).apply([x]); // 2: the short branch
  const c = F.add(a2, b); // 4
  t.deepEqual([x.generation, a.generation, a2.generation, b.generation, c.generation], [1, 2, 3, 2, 4]);
  c.backward();
  t.is(log.length, 4);
  t.is(log[0], 'a2');
  t.is(log[3], 'pre', `order was ${log.join(', ')}`);
  t.deepEqual(log.slice(1, 3).sort(), ['a', 'b']);
  // dc/dx0 = 2 * (3 * 5 + 7)
  allclose(t, x0.grad!, 2 * (15 + 7));
});

test('a leaf used twice by one op gets both gradients: d(x*x)/dx = 2x', (t) => {
  const x = f64([1, -2, 3]);
  F.sum(F.mul(x, x)).backward();
  t.deepEqual(Array.from(x.grad!.toFlat()), [2, -4, 6]);
});

test('leaf gradients accumulate across backward calls until cleargrad', (t) => {
  const x = f64([1, 2]), w = f64([3, 4]);
  F.sum(F.mul(x, w)).backward();
  t.deepEqual(Array.from(x.grad!.toFlat()), [3, 4]);
  F.sum(F.mul(F.mul(x, x), 0.5)).backward(); // adds x
  t.deepEqual(Array.from(x.grad!.toFlat()), [4, 6]);
  t.deepEqual(Array.from(w.grad!.toFlat()), [1, 2]);
  x.cleargrad();
  t.is(x.grad, null);
  F.sum(x).backward();
  t.deepEqual(Array.from(x.grad!.toFlat()), [1, 1]);
  t.deepEqual(Array.from(w.grad!.toFlat()), [1, 2], 'w untouched by a graph it is not in');
});

test('intermediate gradients are dropped unless backward({ retainGrad: true })', (t) => {
  const run = (retainGrad: boolean) => {
    const x = f64([1, 2, 3]);
    const h = F.mul(x, 2);
    const y = F.sum(F.mul(h, h));
    y.backward({ retainGrad });
    return { x, h, y };
  };
  const dropped = run(false);
  t.is(dropped.h.grad, null);
  t.deepEqual(Array.from(dropped.x.grad!.toFlat()), [8, 16, 24]);
  t.deepEqual(dropped.y.grad!.toArray(), 1, 'the root keeps its own gradient');
  const kept = run(true);
  t.deepEqual(Array.from(kept.h.grad!.toFlat()), [4, 8, 12]); // dy/dh = 2h
  t.deepEqual(Array.from(kept.x.grad!.toFlat()), [8, 16, 24]);
});

test('unchainBackward cuts the history: a later loss through h does not reach earlier params', (t) => {
  const W1 = f64([0.5, -1]), W2 = f64([2, 3]), x = f64([1, 2]);
  const h = F.tanh(F.mul(W1, x));
  const loss = F.sum(h);
  loss.backward();
  t.not(W1.grad, null);
  h.unchainBackward();
  t.is(h.creator, null);
  W1.cleargrad();
  const loss2 = F.sum(F.mul(h, W2));
  loss2.backward();
  t.is(W1.grad, null, 'W1 is above the cut');
  allclose(t, W2.grad!, Array.from(h.data.toFlat()));
  // unchainBackward on the loss itself cuts every node above it
  const y = F.exp(F.mul(W2, 2));
  const z = F.sum(y);
  z.unchainBackward();
  t.is(z.creator, null);
  t.is(y.creator, null);
});

test('unchain makes only this variable a leaf', (t) => {
  const x = f64([1]);
  const a = F.mul(x, 2), b = F.mul(a, 3);
  b.unchain();
  t.is(b.creator, null);
  t.not(a.creator, null);
});

test('a non-scalar root without a gradient set throws a clear error; with root.grad set it works', (t) => {
  const x = f64([1, 2, 3, 4, 5, 6], [2, 3]);
  const y = F.mul(x, x);
  t.throws(() => y.backward(), { message: 'backward: root has shape (2, 3); set root.grad first for a non-scalar output' });
  y.grad = array([1, 0, 0, 0, 0, 2], [2, 3], 'float64');
  y.backward();
  t.deepEqual(x.grad!.toArray(), [[2, 0, 0], [0, 0, 24]]);
  t.throws(() => { y.grad = array([1, 2], [2], 'float64'); }, { message: /^Variable\.grad: gradient shape \(2,\) does not match data shape \(2, 3\)$/ });
});

test('int32 Variables default to requiresGrad false and get no gradient', (t) => {
  const i = new Variable(array([1, 2], [2], 'int32'));
  t.false(i.requiresGrad);
  t.true(new Variable(array([1, 2])).requiresGrad);
  t.true(new Variable(array([1, 2], [2], 'int32'), { requiresGrad: true }).requiresGrad);
  const x = f64([3, 4]);
  const y = F.sum(F.mul(x, i));
  t.false(F.mul(i, i).requiresGrad);
  t.is(F.mul(i, i).creator, null, 'no graph when no input requires a gradient');
  y.backward();
  t.deepEqual(Array.from(x.grad!.toFlat()), [1, 2]);
  t.is(i.grad, null);
});

test('requiresGrad false on a float leaf: no gradient, no graph through it alone', (t) => {
  const c = new Variable(array([1, 2], [2], 'float64'), { requiresGrad: false });
  const x = f64([5, 6]);
  t.is(F.exp(c).creator, null);
  F.sum(F.mul(c, x)).backward();
  t.is(c.grad, null);
  t.deepEqual(Array.from(x.grad!.toFlat()), [1, 2]);
});

test('multiple outputs: an unused output contributes a zero gradient', (t) => {
  const x = f64([1, 2, 3, 4]);
  const [a, b] = F.splitAxis(x, 2, 0);
  F.sum(F.mul(b, b)).backward();
  t.deepEqual(Array.from(x.grad!.toFlat()), [0, 0, 6, 8]);
  t.is(a.grad, null);
});

test('enableDoubleBackprop records the backward pass: d2(x^3)/dx2 = 6x', (t) => {
  const x = f64([2, -1]);
  const y = F.sum(F.mul(F.mul(x, x), x));
  y.backward({ enableDoubleBackprop: true });
  const gx = x.gradVar!;
  t.deepEqual(Array.from(gx.data.toFlat()), [12, 3]);
  t.not(gx.creator, null);
  x.cleargrad();
  F.sum(gx).backward();
  t.deepEqual(Array.from(x.grad!.toFlat()), [12, -6]);
  // without the flag the gradient is a constant
  const z = f64([2]);
  F.sum(F.mul(F.mul(z, z), z)).backward();
  t.is(z.gradVar!.creator, null);
});

test('backward on a leaf root sets its gradient to ones and stops', (t) => {
  const x = scalar(3);
  x.backward();
  t.deepEqual(x.grad!.toArray(), 1);
});
