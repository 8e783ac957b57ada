// Batch normalization (training statistics, with running averages) and its fixed-statistics form, composed of other ops.

import { input, scalar } from '../../compiler/expr.js';
import { deviceOf } from '../array/backend.js';
import { NDArray, shapeStr } from '../array/ndarray.js';
import { elementwise } from '../array/xp.js';
import { Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { add, div, mul, sqrt, sub } from './arithmetic.js';
import { mean } from './reduction.js';
import { normAxes, reshape } from './shape.js';
import { CHECKED_BELOW, checkOptions, type OptionRule } from './options.js';

const ARRAY: OptionRule = { test: (v) => v instanceof NDArray, expected: 'an NDArray' };

export interface BatchNormalizationOptions {
  /** Added to the variance before the square root (Chainer's default 2e-5). */
  eps?: number;
  /** Updated in place, when given: running = decay running + (1 - decay) batch mean. */
  runningMean?: NDArray;
  /** Updated in place with the unbiased batch variance (times m / (m - 1)). */
  runningVar?: NDArray;
  /** Weight of the old running statistics (default 0.9). */
  decay?: number;
  /** The axes to normalize over; default 0 and every axis after gamma's (Chainer's rule). */
  axis?: number | readonly number[];
}

/**
 * The reduced axes and the shape gamma/beta broadcast as: Chainer's rule is that gamma's
 * shape is x's shape without the reduced axes; with no `axis`, those are 0 and the axes
 * after 1 + gamma.ndim (so (N, C, H, W) with gamma (C,) normalizes each channel).
 */
function layout(op: string, x: Variable, params: [string, Variable][], axis: number | readonly number[] | undefined, eps: number) {
  const gamma = params[0][1];
  if (x.dtype === 'int32') throw new Error(`${op}: x must be a float array, got int32 x ${shapeStr(x.shape)}`);
  // the default axes are checked too: a 0-d x has no axis 0, and the error must name this op
  const axes = normAxes(axis === undefined
    ? [0, ...Array.from({ length: Math.max(x.ndim - 1 - gamma.ndim, 0) }, (_, i) => i + 1 + gamma.ndim)]
    : axis, x.ndim, op);
  const want = x.shape.filter((_, d) => !axes.includes(d));
  for (const [name, p] of params) {
    if (p.ndim !== want.length || p.shape.some((n, i) => n !== want[i])) {
      throw new Error(`${op}: ${name} ${shapeStr(p.shape)} does not match x ${shapeStr(x.shape)} reduced over axes ${shapeStr(axes)}: expected ${name} ${shapeStr(want)}`);
    }
  }
  if (!(eps > 0) || !Number.isFinite(eps)) throw new Error(`${op}: eps must be a positive finite number, got ${eps}`);
  deviceOf([x.data, ...params.map(([, p]) => p.data)], op, ['x', ...params.map(([n]) => n)]);
  const kept = x.shape.map((n, d) => (axes.includes(d) ? 1 : n));
  return { axes, kept, m: x.size / Math.max(gamma.size, 1) };
}

/**
 * y = gamma (x - mean) / sqrt(var + eps) + beta with the mean and (biased) variance of this
 * batch over the normalized axes (Chainer's F.batch_normalization). With `runningMean` and
 * `runningVar`, those arrays are also updated in place with `decay`, as the link needs.
 */
export function batchNormalization(x: VariableLike, gamma: VariableLike, beta: VariableLike, opts: BatchNormalizationOptions = {}): Variable {
  checkOptions('batchNormalization', opts, { eps: CHECKED_BELOW, runningMean: ARRAY, runningVar: ARRAY, decay: CHECKED_BELOW, axis: CHECKED_BELOW });
  const { eps = 2e-5, runningMean, runningVar, decay = 0.9, axis } = opts;
  const xv = argVariable(x, 'batchNormalization', 'x');
  const g = argVariable(gamma, 'batchNormalization', 'gamma'), b = argVariable(beta, 'batchNormalization', 'beta');
  const { axes, kept, m } = layout('batchNormalization', xv, [['gamma', g], ['beta', b]], axis, eps);
  const count = axes.reduce((p, a) => p * xv.shape[a], 1);
  // the batch statistics of no values are NaN, and they would land in the running averages
  if (count === 0) throw new Error(`batchNormalization: x ${shapeStr(xv.shape)} has no values along the normalized axes ${shapeStr(axes)} to take the batch mean and variance of`);
  if (typeof decay !== 'number' || !(decay >= 0 && decay <= 1)) throw new Error(`batchNormalization: decay must be in [0, 1], got ${typeof decay === 'number' ? decay : JSON.stringify(decay)}`);
  for (const [name, r] of [['runningMean', runningMean], ['runningVar', runningVar]] as const) {
    if (r !== undefined && (r.ndim !== g.ndim || r.shape.some((n, i) => n !== g.shape[i]))) {
      throw new Error(`batchNormalization: ${name} ${shapeStr(r.shape)} must have gamma's shape ${shapeStr(g.shape)}`);
    }
  }
  const mu = mean(xv, axes, true);
  const xc = sub(xv, mu);
  const v = mean(mul(xc, xc), axes, true);
  const y = add(mul(div(xc, sqrt(add(v, eps))), reshape(g, kept)), reshape(b, kept));
  // running averages are state, not part of the graph: updated in place from the batch values
  if (runningMean !== undefined) {
    elementwise([scalar(0).mul(input(0)).add(scalar(1).mul(input(1)))], [runningMean, mu.data.reshape(g.shape)], [decay, 1 - decay], { outs: [runningMean], op: 'batchNormalization' });
  }
  if (runningVar !== undefined) {
    // unbiased, as Chainer's: m / max(m - 1, 1), so one value per channel leaves it biased
    const adjust = m / Math.max(m - 1, 1);
    elementwise([scalar(0).mul(input(0)).add(scalar(1).mul(input(1)))], [runningVar, v.data.reshape(g.shape)], [decay, (1 - decay) * adjust], { outs: [runningVar], op: 'batchNormalization' });
  }
  return y;
}

export interface FixedBatchNormalizationOptions {
  eps?: number;
  axis?: number | readonly number[];
}

/**
 * y = gamma (x - mean) / sqrt(var + eps) + beta with the given statistics (Chainer's
 * F.fixed_batch_normalization, used in test mode). Every input gets a gradient.
 */
export function fixedBatchNormalization(
  x: VariableLike, gamma: VariableLike, beta: VariableLike, mean: VariableLike, variance: VariableLike, opts: FixedBatchNormalizationOptions = {},
): Variable {
  const { eps = 2e-5, axis } = opts;
  const op = 'fixedBatchNormalization';
  checkOptions(op, opts, { eps: CHECKED_BELOW, axis: CHECKED_BELOW });
  const xv = argVariable(x, op, 'x'), g = argVariable(gamma, op, 'gamma'), b = argVariable(beta, op, 'beta');
  const mu = argVariable(mean, op, 'mean'), va = argVariable(variance, op, 'var');
  const { kept } = layout(op, xv, [['gamma', g], ['beta', b], ['mean', mu], ['var', va]], axis, eps);
  const scale = div(reshape(g, kept), sqrt(add(reshape(va, kept), eps)));
  return add(mul(sub(xv, reshape(mu, kept)), scale), reshape(b, kept));
}
