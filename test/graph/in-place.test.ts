// In-place writes after forward are caught by backward (version counters), and a FunctionNode instance runs once.

import test from 'ava';
import { input } from '../../compiler/expr.js';
import { F, FunctionNode, L, NDArray, Variable, array, optimizers, type Device } from '../../runtime/index.js';
import { updateInPlace } from '../../runtime/optimizers/optimizer.js';
import { allclose, useDevices } from '../helpers.js';

const devices = await useDevices(test);

const HINT = 'after forward retained it; call backward before optimizer.update (or any in-place write)';
const addOne = (x: NDArray) => updateInPlace([input(0).add(1)], [x], [], [x]);

/** y = exp(x), whose backward reads its retained output (Chainer's retain_outputs). */
class Exp extends FunctionNode {
  readonly label = 'exp (retaining)';
  forward([x]: readonly NDArray[]): NDArray[] {
    this.retainOutputs([0]);
    return [F.exp(x).data];
  }
  backward(_: readonly number[], [gy]: readonly Variable[]): Variable[] {
    const [y] = this.retainedOutputs;
    return [F.mul(gy, y)];
  }
}

devices.each('version: every in-place write bumps the version, which all views of the storage share', async (t, device) => {
  const x = array([[1, 2, 3], [4, 5, 6]]).to(device);
  const view = x.reshape([6]);
  const other = array([1, 2, 3]).to(device);
  t.deepEqual([x.version, view.version, other.version], [0, 0, 0]);
  addOne(x);
  addOne(view);
  t.deepEqual([x.version, view.version, x.transpose().version, other.version], [2, 2, 2, 0]);
  t.deepEqual(await x.array(), [[3, 4, 5], [6, 7, 8]]);
  t.is(F.add(x, 1).data.version, 0, 'a fresh result starts at version 0');
});

devices.each('bad input: backward after the optimizer updated W in place names the op, the input and both versions', (t, device) => {
  const model = new L.Linear(3, 2);
  if (device === 'webgpu') model.toGpu();
  const optimizer = new optimizers.SGD(0.1).setup(model);
  // x needs a gradient, so backward reads W (gx = gy W); gW alone would not read it
  const x = new Variable(array([[1, 2, 3]]).to(device));
  F.sum(model.forward(x)).backward(); // gradients for the update below
  const loss = F.sum(model.forward(x));
  optimizer.update(); // writes W and b in place: loss's graph still holds the old W
  t.throws(() => loss.backward(), { message: `backward: linear's input 1 (2, 3) was modified in place (version 0 -> 1) ${HINT}` });
});

devices.each('bad input: an in-place write into a named variable that mul retained is named in the error', (t, device) => {
  const w = new Variable(array([1, 2]).to(device), { name: 'w' });
  const x = new Variable(array([3, 4]).to(device));
  const y = F.sum(F.mul(x, w));
  addOne(w.data);
  addOne(w.data);
  t.throws(() => y.backward(), { message: `backward: mul's input w (2,) was modified in place (version 0 -> 2) ${HINT}` });
});

devices.each('in place: an input whose value backward does not read may change (add), as in PyTorch', async (t, device) => {
  const x = new Variable(array([1, 2]).to(device)), b = new Variable(array([5, 6]).to(device));
  const y = F.sum(F.add(x, b));
  addOne(b.data);
  y.backward();
  allclose(t, await x.grad!.toCpu(), [1, 1]);
  allclose(t, await b.grad!.toCpu(), [1, 1]);
});

devices.each('bad input: replacing an input\'s data after forward is refused too', (t, device) => {
  const x = new Variable(array([1, 2]).to(device), { name: 'x' });
  const y = F.sum(F.mul(x, x));
  x.data = array([7, 8]).to(device);
  t.throws(() => y.backward(), { message: `backward: mul's input x (2,) was replaced by another array ${HINT}` });
});

devices.each('retained outputs: backward reads the output data, and refuses it once written in place', async (t, device) => {
  const x = new Variable(array([0, 1]).to(device));
  const [y] = new Exp().apply([x]);
  F.sum(y).backward();
  allclose(t, await x.grad!.toCpu(), [1, Math.E], { rtol: 1e-6 });
  const [z] = new Exp().apply([x]);
  addOne(z.data);
  t.throws(() => F.sum(z).backward(), { message: `backward: exp (retaining)'s output 0 (2,) was modified in place (version 0 -> 1) ${HINT}` });
});

test('retained outputs: a dropped output Variable still serves backward and double backward (d2 exp / dx2 = exp)', (t) => {
  const x = new Variable(array([0.5, -1], [2], 'float64'));
  const node = new Exp();
  const s = F.sum(node.apply([x])[0]); // the output Variable itself is not kept anywhere
  s.backward({ enableDoubleBackprop: true });
  const gx = x.gradVar!;
  allclose(t, gx.data, [Math.exp(0.5), Math.exp(-1)], { atol: 1e-12 });
  x.cleargrad();
  F.sum(gx).backward();
  allclose(t, x.grad!, [Math.exp(0.5), Math.exp(-1)], { atol: 1e-12 });
});

devices.each('bad input: one FunctionNode instance applied twice is refused', (t, device) => {
  const node = new Exp();
  const x = new Variable(array([1]).to(device));
  node.apply([x]);
  t.throws(() => node.apply([x]), { message: 'exp (retaining): this FunctionNode was already applied; create a new one for each call' });
});

devices.each('in place: the normal order (backward, then update) passes, and the next forward sees the new W', async (t, device: Device) => {
  const model = new L.Linear(3, 2);
  const W0 = model.W.data.toArray() as number[][];
  if (device === 'webgpu') model.toGpu();
  const optimizer = new optimizers.SGD(0.1).setup(model);
  const x = array([[1, 2, 3]]).to(device);
  for (let i = 0; i < 3; i++) optimizer.update(() => F.sum(model.forward(x)));
  t.is(model.W.data.version, 3);
  // d sum(x W^T + b) / dW = x in every row, so three steps of 0.1 lower each row by 0.3 x
  allclose(t, await model.W.data.toCpu(), W0.map((row) => row.map((w, j) => w - 0.3 * (j + 1))), { atol: 1e-6 });
});
