// Numerical gradient checks (Chainer's check_backward): central differences in float64.

import { input, scalar } from '../compiler/expr.js';
import { NDArray, shapeStr } from './array/ndarray.js';
import { elementwise, randomNormal } from './array/xp.js';
import { RandomState } from './array/random.js';
import { noBackprop, usingConfig } from './graph/config.js';
import { Variable } from './graph/variable.js';
import { add, mul } from './ops/arithmetic.js';
import { sum } from './ops/shape.js';

export type CheckedFn = (...xs: Variable[]) => Variable | Variable[];

export interface CheckOptions {
  /** Step of the central difference (default 1e-3). */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Seed of the random direction and of any gy drawn. */
  seed?: number;
  /** Indexes of inputs that get no gradient (labels, masks); they are not perturbed. */
  noGrads?: readonly number[];
}

const toF64 = (x: NDArray): NDArray => (x.dtype === 'float64' ? x : new NDArray(new Float64Array(x.toFlat()), x.shape.slice()));
const asList = (y: Variable | Variable[]) => (Array.isArray(y) ? y : [y]);

function dot(a: NDArray, b: NDArray): number {
  const x = a.toFlat(), y = b.toFlat();
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

/**
 * Check `fn`'s backward against a numerical derivative along one random direction d:
 * the analytic sum_i <gx_i, d_i> must match (L(x + eps d) - L(x - eps d)) / 2 eps,
 * where L(x) = sum_j <y_j(x), gy_j>. Float inputs are cast to float64 first. Throws an
 * error with both numbers when they differ by more than atol + rtol |numerical|.
 */
export function checkBackward(fn: CheckedFn, inputs: readonly NDArray[], gys?: readonly NDArray[] | null, opts: CheckOptions = {}): void {
  const { eps = 1e-3, atol = 1e-5, rtol = 1e-4, seed = 0, noGrads = [] } = opts;
  const rng = new RandomState(seed);
  const xs = inputs.map((x) => (x.dtype === 'int32' ? x : toF64(x)));
  const differentiable = xs.map((x, i) => x.dtype !== 'int32' && !noGrads.includes(i));

  const vars = xs.map((x, i) => new Variable(x, { requiresGrad: differentiable[i] }));
  const ys = asList(fn(...vars));
  const g = (gys ?? ys.map((y) => randomNormal(y.shape, 0, 1, { dtype: 'float64', rng }))).map(toF64);
  if (g.length !== ys.length) throw new Error(`checkBackward: ${ys.length} outputs but ${g.length} gy arrays`);
  ys.forEach((y, j) => {
    if (y.dtype !== 'float64') throw new Error(`checkBackward: output ${j} is ${y.dtype}, expected float64 (the op must keep its input dtype)`);
    if (g[j].shape.join() !== y.shape.join()) throw new Error(`checkBackward: gy ${shapeStr(g[j].shape)} does not match output ${j} ${shapeStr(y.shape)}`);
  });
  // One scalar to backprop from: sum_j <y_j, gy_j>, so several outputs are checked at once.
  const L = ys.map((y, j) => sum(mul(y, g[j]))).reduce((a, b) => add(a, b));
  L.backward();

  const dirs = xs.map((x, i) => (differentiable[i] ? randomNormal(x.shape, 0, 1, { dtype: 'float64', rng }) : null));
  const norm = Math.sqrt(dirs.reduce((s, d) => s + (d ? dot(d, d) : 0), 0)) || 1;
  let analytic = 0;
  vars.forEach((v, i) => {
    const d = dirs[i];
    if (d === null) return;
    // No gradient is a zero gradient (as in Chainer): a bias's in double backward, say.
    // A backward that wrongly returns none still fails below, against the numerical side.
    if (v.grad !== null) analytic += dot(v.grad, d) / norm;
  });

  const shifted = (h: number) => noBackprop(() => {
    const moved = xs.map((x, i) => {
      const d = dirs[i];
      if (d === null) return new Variable(x, { requiresGrad: false });
      const [y] = elementwise([input(0).add(scalar(0).mul(input(1)))], [x, d], [h / norm], { dtype: 'float64' });
      return new Variable(y);
    });
    return asList(fn(...moved)).reduce((s, y, j) => s + dot(y.data, g[j]), 0);
  });
  const numerical = (shifted(eps) - shifted(-eps)) / (2 * eps);
  if (!(Math.abs(analytic - numerical) <= atol + rtol * Math.abs(numerical))) {
    throw new Error(`checkBackward: analytic directional derivative ${analytic} differs from numerical ${numerical} (|diff| ${Math.abs(analytic - numerical)} > atol ${atol} + rtol ${rtol} * |numerical|)`);
  }
}

/**
 * Check the gradient of the gradient: `checkBackward` applied to the function
 * (x..., gy...) -> (gx...) that first-order backward computes with a recorded graph.
 */
export function checkDoubleBackward(fn: CheckedFn, inputs: readonly NDArray[], gys: readonly NDArray[], ggxs?: readonly NDArray[] | null, opts: CheckOptions = {}): void {
  const n = inputs.length;
  // Backprop must record even inside checkBackward's numerical (no-backprop) evaluations.
  const firstOrder = (...args: Variable[]): Variable[] => usingConfig({ enableBackprop: true }, () => {
    const xs = args.slice(0, n).map((x) => (x.requiresGrad || x.dtype === 'int32' ? x : new Variable(x.data)));
    const ys = asList(fn(...xs));
    const L = ys.map((y, j) => sum(mul(y, args[n + j]))).reduce((a, b) => add(a, b));
    L.backward({ enableDoubleBackprop: true });
    const gxs = xs.filter((x) => x.dtype !== 'int32').map((x) => {
      if (x.gradVar === null) throw new Error('checkDoubleBackward: an input received no gradient');
      return x.gradVar;
    });
    // The outer check backprops into the same leaves (gy's too); start them clean.
    [...xs, ...args].forEach((x) => x.cleargrad());
    return gxs;
  });
  checkBackward(firstOrder, [...inputs, ...gys], ggxs, opts);
}


