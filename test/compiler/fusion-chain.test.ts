// The chain planner: one forward and one backward kernel per chain, recompute-or-store decided and recorded, stable names.

import test from 'ava';
import { evaluate, input, scalar, type Expr } from '../../compiler/expr.js';
import { MAX_DERIVATIVES, STORE_FROM, chainName, planChain, planLocalDerivative } from '../../compiler/fusion/chain.js';
import { exprsFromJSON, exprsToJSON } from '../../compiler/serialize.js';
import { backendOf } from '../../runtime/array/backend.js';
import { NDArray } from '../../runtime/array/ndarray.js';
import { allclose, countKernels, useDevices } from '../helpers.js';

const devices = await useDevices(test);
const x = input(0), a = input(1), b = input(2);
const sigmoid = (v: Expr) => v.neg().exp().add(1).pow(-1);
const B3 = x.mul(a).add(b).tanh().mul(sigmoid(x)).add(x.mul(x).mul(0.5));

/** d/dx_i of sum_j gy_j * f_j by central differences in float64. */
function numericGrad(outputs: readonly Expr[], at: number[], i: number, gys: number[]): number {
  const h = 1e-6;
  const f = (d: number) => {
    const v = at.slice();
    v[i] += d;
    return outputs.reduce((s, y, j) => s + gys[j] * evaluate(y, v, [0]), 0);
  };
  return (f(h) - f(-h)) / (2 * h);
}

test('B3 recomputes: its intermediates are too cheap to store, and the decision says so', (t) => {
  const plan = planChain([B3], 3);
  t.is(plan.decision.decision, 'recompute');
  t.deepEqual(plan.decision.stored, []);
  t.true(plan.decision.recomputeCost - plan.decision.backwardCost < STORE_FROM);
  t.is(plan.forward.roots.length, 1);
  t.is(plan.backward.roots.length, 3, 'one gradient per input, all in one kernel');
  t.deepEqual(plan.backward.reads, ['x0', 'x1', 'x2', 'gy0']);
  t.regex(plan.forward.name, /^fused_mul_add_tanh_neg_exp_pow_[0-9a-f]{16}$/);
  t.not(plan.forward.name, plan.backward.name);
  for (const at of [[0.3, -1.2, 0.5], [-2, 0.7, -0.3], [1.5, 2, 1]]) {
    for (let i = 0; i < 3; i++) {
      const got = evaluate(plan.backward.roots[i], [...at, 1.7]);
      t.true(Math.abs(got - numericGrad([B3], at, i, [1.7])) < 1e-6, `d/dx${i} at ${at}`);
    }
  }
});

// A deep transcendental tower of x and a, used several times. Differentiating through it
// needs every level's value anyway (storing one saves only that level), but the gradient of
// b alone needs just the tower's value: cheaper stored than recomputed.
const tower = x.exp().mul(a).tanh().add(1).log().tanh().mul(x.sqrt()).exp();
const HEAVY = tower.mul(tower).add(tower.mul(b)).tanh();

test('through the tower every level is needed: recompute (storing one level saves too little)', (t) => {
  const plan = planChain([HEAVY], 3);
  t.is(plan.decision.decision, 'recompute');
  t.true(plan.decision.backwardCost > 3 * STORE_FROM, 'a costly backward, and still no single store pays');
});

test('for b\'s gradient alone the tower is only a value: stored, and the gradient stays exact', (t) => {
  const plan = planChain([HEAVY], 3, { wrt: [2] });
  t.is(plan.decision.decision, 'store');
  t.true(plan.decision.stored.length >= 1);
  t.true(plan.decision.recomputeCost - plan.decision.backwardCost >= STORE_FROM, JSON.stringify(plan.decision.backwardCost));
  t.is(plan.forward.roots.length, 1 + plan.decision.stored.length, 'the forward writes each stored value');
  t.is(plan.decision.stored[0], tower);
  t.deepEqual(plan.backward.reads, ['x0', 'x1', 'x2', 'gy0', ...plan.decision.stored.map((_, s) => `saved${s}`)]);
  for (const at of [[0.3, -1.2, 0.5], [1.1, 0.4, -0.8]]) {
    const saved = plan.decision.stored.map((e) => evaluate(e, at));
    for (const i of [2]) {
      const got = evaluate(plan.backward.roots[0], [...at, 0.9, ...saved]);
      const want = numericGrad([HEAVY], at, i, [0.9]);
      t.true(Math.abs(got - want) < 1e-5 * Math.max(1, Math.abs(want)), `d/dx${i} at ${at}: ${got} vs ${want}`);
    }
  }
});

test('storing never takes a kernel past the storage-buffer limit', (t) => {
  t.is(planChain([HEAVY], 3, { wrt: [2], maxStorageBuffers: 5 }).decision.stored.length, 0, '3 inputs + gy + 1 gradient fill 5');
  t.is(planChain([HEAVY], 3, { wrt: [2], maxStorageBuffers: 6 }).decision.stored.length, 1);
  t.is(planChain([HEAVY], 3, { wrt: [2], maxStored: 0 }).decision.decision, 'recompute');
});

test('several outputs, one gradient absent: the backward sums over the present ones only', (t) => {
  const y0 = x.mul(a).tanh(), y1 = x.mul(b).add(scalar(0)), y2 = y0.mul(y1);
  const plan = planChain([y0, y1, y2], 3, { gys: [true, false, true], wrt: [0, 2] });
  t.deepEqual(plan.backward.reads, ['x0', 'x1', 'x2', 'gy0', 'gy2']);
  t.is(plan.backward.roots.length, 2);
  const at = [0.4, -0.9, 1.3];
  for (const [k, i] of [0, 2].entries()) {
    // scalar(0) = 0 in evaluate's default; the numeric gradient sees the same
    const got = evaluate(plan.backward.roots[k], [...at, 0.6, -1.1], [0]);
    t.true(Math.abs(got - numericGrad([y0, y1, y2], at, i, [0.6, 0, -1.1])) < 1e-6);
  }
});

test('bad input: planChain names what is wrong', (t) => {
  t.throws(() => planChain([x.add(input(4))], 2), { message: 'planChain: the chain reads input(4) but has 2 inputs' });
  t.throws(() => planChain([x], 1, { gys: [true, true] }), { message: 'planChain: gys has 2 entries for 1 outputs' });
});

test('names: the same chain gets the same name from a serialized copy, a different one another', (t) => {
  const plan = planChain([B3], 3);
  const copy = exprsFromJSON(JSON.parse(JSON.stringify(exprsToJSON(plan.backward.roots))));
  t.is(chainName(copy, 4), plan.backward.name);
  t.not(chainName([B3.add(1)], 3), plan.forward.name);
});

devices.each('a planned chain runs as 1 forward and 1 backward dispatch and matches float64', async (t, device) => {
  for (const [chain, wrt] of [[B3, [0, 1, 2]], [HEAVY, [2]]] as const) {
    const plan = planChain([chain], 3, { wrt });
    const n = 1030;
    const vals = [0, 1, 2].map((k) => Float32Array.from({ length: n }, (_, i) => 0.2 + 0.8 * Math.abs(Math.sin(i * (k + 1.3)))));
    const gy = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
    const be = backendOf(device);
    const on = (v: Float32Array) => (device === 'cpu' ? new NDArray(v, [n]) : new NDArray(v, [n]).toGpu());
    const ins = vals.map(on);
    let fwd: NDArray[] = [], bwd: NDArray[] = [];
    t.is(countKernels(() => (fwd = be.elementwise(plan.forward.roots, ins, [], [n], 'float32'))), 1);
    t.is(countKernels(() => (bwd = be.elementwise(plan.backward.roots, [...ins, on(gy), ...fwd.slice(1)], [], [n], 'float32'))), 1);
    const at = (i: number) => vals.map((v) => v[i]);
    allclose(t, await fwd[0].data(), Array.from({ length: n }, (_, i) => evaluate(chain, at(i))), { atol: 1e-5, rtol: 1e-4 });
    for (let k = 0; k < wrt.length; k++) {
      const full = planChain([chain], 3, { wrt, maxStored: 0 }).backward.roots[k];
      allclose(t, await bwd[k].data(), Array.from({ length: n }, (_, i) => evaluate(full, [...at(i), gy[i]])), { atol: 1e-4, rtol: 1e-3 });
    }
  }
});

// ---- store the local derivative --------------------------------------------------------------

// the bench's B3: one array input, its two scalars literals (as fuse(fn) sees F.mul(x, 0.7))
const B3_ONE = x.mul(0.7).add(-0.3).tanh().mul(x.sigmoid()).add(x.mul(x).mul(0.5));

test('B3 over one input stores dy/dx in its forward: two transcendentals saved in backward for one array', (t) => {
  const d = planLocalDerivative([B3_ONE], 1, [0]);
  t.is(d.decision, 'store-derivative', d.why);
  t.is(d.derivatives.length, 1);
  t.true(d.saving >= d.traffic, d.why);
  for (const v of [-3, -0.4, 0, 0.25, 2.5]) {
    const h = 1e-6, want = (evaluate(B3_ONE, [v + h]) - evaluate(B3_ONE, [v - h])) / (2 * h);
    t.true(Math.abs(evaluate(d.derivatives[0], [v]) - want) < 1e-6, `dy/dx at ${v}`);
  }
});

test('cheap derivatives are recomputed: a lone tanh, exp (its derivative is y), a product (the other factor)', (t) => {
  for (const [name, chain, n, wrt] of [['tanh', x.tanh(), 1, [0]], ['exp', x.exp(), 1, [0]], ['mul', x.mul(a), 2, [0, 1]]] as const) {
    const d = planLocalDerivative([chain], n, wrt);
    t.is(d.decision, 'recompute', `${name}: ${d.why}`);
    t.deepEqual(d.derivatives, []);
    t.true(d.saving < d.traffic, name);
  }
});

test('the rule: one output, at most MAX_DERIVATIVES inputs, none broadcast, within the storage-buffer limit', (t) => {
  const two = planLocalDerivative([B3_ONE, x.tanh()], 1, [0]);
  t.is(two.decision, 'recompute');
  t.regex(two.why, /^2 outputs/);
  const wide = HEAVY.mul(x.tanh().exp()); // every input heavy: would pay, but three inputs is past the limit
  t.is(planLocalDerivative([wide], 3, [0, 1, 2]).decision, 'recompute');
  t.is(MAX_DERIVATIVES, 2);
  t.regex(planLocalDerivative([B3_ONE.mul(a)], 2, [0], { broadcast: [true, false] }).why, /^input 0 is broadcast/);
  t.is(planLocalDerivative([B3_ONE.mul(a)], 2, [0], { broadcast: [false, true] }).decision, 'store-derivative', 'only inputs wanting a gradient matter');
  t.regex(planLocalDerivative([B3_ONE], 1, [0], { maxStorageBuffers: 2 }).why, /storage buffers/);
  t.is(planLocalDerivative([B3_ONE], 1, []).decision, 'recompute');
});
