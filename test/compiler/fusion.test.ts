// Acceptance: a long elementwise chain runs as one generated kernel and equals the op-at-a-time run.

import test from 'ava';
import { input, topoSort } from '../../compiler/expr.js';
import { vjp } from '../../compiler/grad.js';
import { renderLoop } from '../../compiler/js.js';
import { array, elementwise, reduce } from '../../runtime/array/xp.js';
import { F, NDArray, Variable } from '../../runtime/index.js';
import { allclose, countKernels } from '../helpers.js';
import { CHAIN, ELEMENTWISE_CASES } from './cases.js';

// x, w, z of shape (4, 6) and b of shape (6,), broadcast over the rows
const inputs = ELEMENTWISE_CASES.find((c) => c.name === 'chain')!.inputs;
const shape = [4, 6];
const gy = array(Float32Array.from({ length: 24 }, (_, i) => Math.cos(2.1 * i)), shape);

/** CHAIN through the runtime's F ops: one kernel and one graph node per op. */
function opAtATime(): { y: Variable; vars: Variable[] } {
  const vars = inputs.map((a) => new Variable(a));
  const [X, W, B, Z] = vars;
  const h = F.tanh(F.add(F.mul(X, W), B));
  const s = F.div(1, F.add(F.exp(F.neg(Z)), 1));
  const q = F.div(F.exp(F.neg(F.mul(X, X))), F.add(F.abs(Z), 1));
  return { y: F.sub(F.mul(h, s), q), vars };
}

test('a 6+-op chain renders as one loop and matches op-at-a-time', (t) => {
  const nOps = topoSort([CHAIN]).filter((e) => e.args.length > 0).length;
  t.is(nOps, 15);
  // one loop nest over the collapsed (4, 6) space (b's broadcast keeps two dims)
  t.is(renderLoop([CHAIN], 4, 2, { kind: 'store' }).match(/for \(/g)?.length, 2);

  let fused: NDArray[] = [];
  t.is(countKernels(() => (fused = elementwise([CHAIN], inputs))), 1, 'the fused chain is one kernel');
  let y: Variable | undefined;
  t.is(countKernels(() => (y = opAtATime().y)), nOps, 'op at a time, every op is its own kernel');

  t.deepEqual(fused[0].shape, shape);
  t.is(fused[0].dtype, 'float32');
  // op-at-a-time rounds to float32 after every op, the fused loop once at the end
  allclose(t, fused[0], y!.data, { rtol: 1e-5, atol: 1e-6 });
});

test('the fused backward: one kernel per input from vjp, equal to the op-at-a-time backward', (t) => {
  const { y, vars } = opAtATime();
  y.grad = gy;
  y.backward();

  // input(4) stands for gy; each gradient recomputes the chain's intermediates from the inputs
  const grads = vjp(CHAIN, [0, 1, 2, 3], input(4));
  const args = [...inputs, gy];
  grads.forEach((g, k) => {
    let gx: NDArray[] = [];
    t.is(countKernels(() => (gx = elementwise([g], args))), 1, `gradient ${k} is one kernel`);
    // b was broadcast over the rows: its gradient sums them, as the Variable backward does
    const got = k === 2 ? reduce('sum', gx[0], [0]) : gx[0];
    allclose(t, got, vars[k].grad!, { rtol: 1e-5, atol: 1e-6 });
  });

  // and all four gradients can share one loop as a multi-output kernel
  let all: NDArray[] = [];
  t.is(countKernels(() => (all = elementwise(grads, args))), 1);
  [0, 1, 3].forEach((k) => allclose(t, all[k], vars[k].grad!, { rtol: 1e-5, atol: 1e-6 }));
  allclose(t, reduce('sum', all[2], [0]), vars[2].grad!, { rtol: 1e-5, atol: 1e-6 });
});
