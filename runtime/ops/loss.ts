// Losses: softmaxCrossEntropy, sigmoidCrossEntropy and meanSquaredError, composed of differentiable ops.

import { constant, input, scalar, select } from '../../compiler/expr.js';
import { deviceOf } from '../array/backend.js';
import { shapeStr } from '../array/ndarray.js';
import { elementwise as runElementwise, reduce } from '../array/xp.js';
import { Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { logSoftmax } from './activation.js';
import { BOOLEAN, INTEGER, checkOptions, oneOf } from './options.js';
import { elementwise } from './elementwise.js';
import { mul, neg, sub } from './arithmetic.js';
import { selectItem } from './indexing.js';
import { reshape, sum, transpose } from './shape.js';

export interface SoftmaxCrossEntropyOptions {
  /** Divide by the number of non-ignored labels (true, Chainer's default) or by the batch size. */
  normalize?: boolean;
  /** Samples with this label contribute nothing (default -1). */
  ignoreLabel?: number;
  /** 'mean' gives a scalar; 'no' gives the per-sample loss. */
  reduce?: 'mean' | 'no';
}

/**
 * Cross entropy of softmax(x) against integer labels t. x is (N, C) or (N, C, d1, ...)
 * with the classes on axis 1; t is int32 (N,) or (N, d1, ...).
 */
export function softmaxCrossEntropy(x: VariableLike, t: VariableLike, opts: SoftmaxCrossEntropyOptions = {}): Variable {
  checkOptions('softmaxCrossEntropy', opts, { normalize: BOOLEAN, ignoreLabel: INTEGER, reduce: oneOf('mean', 'no') });
  const { normalize = true, ignoreLabel = -1, reduce: mode = 'mean' } = opts;
  const xv = argVariable(x, 'softmaxCrossEntropy', 'x'), tv = argVariable(t, 'softmaxCrossEntropy', 't');
  if (tv.dtype !== 'int32') {
    throw new Error(`softmaxCrossEntropy: t must be an int32 array of labels, got ${tv.dtype} t ${shapeStr(tv.shape)}`);
  }
  if (xv.ndim < 2) throw new Error(`softmaxCrossEntropy: x must be (N, C, ...), got x ${shapeStr(xv.shape)}`);
  const expected = [xv.shape[0], ...xv.shape.slice(2)];
  if (tv.ndim !== expected.length || tv.shape.some((n, i) => n !== expected[i])) {
    throw new Error(`softmaxCrossEntropy: t ${shapeStr(tv.shape)} does not match x ${shapeStr(xv.shape)}: expected t ${shapeStr(expected)}`);
  }
  // checked here, or the error would name the selectItem inside
  deviceOf([xv.data, tv.data], 'softmaxCrossEntropy', ['x', 't']);
  const c = xv.shape[1];
  // Checking labels means reading them; on a GPU that would stall every step, so there an
  // out-of-range label silently contributes nothing (as in Chainer's non-debug mode).
  if (tv.data.device === 'cpu') {
    for (const l of tv.data.toFlat()) {
      if (l !== ignoreLabel && (l < 0 || l >= c)) {
        throw new Error(`softmaxCrossEntropy: label ${l} in t is outside [0, ${c}) and is not the ignore label ${ignoreLabel}`);
      }
    }
  }
  // classes last, samples flattened: (M, C) against (M,)
  const x2 = xv.ndim === 2 ? xv : reshape(transpose(xv, [0, ...xv.shape.slice(2).map((_, i) => i + 2), 1]), [-1, c]);
  const t1 = reshape(tv, [-1]);
  const [valid] = runElementwise([input(0).ne(scalar(0))], [t1.data], [ignoreLabel], { dtype: xv.dtype });
  const picked = mul(selectItem(logSoftmax(x2, 1), t1), valid);
  if (mode === 'no') return reshape(neg(picked), tv.shape);
  if (!normalize) return mul(sum(picked), -1 / tv.shape[0]);
  // -1 / max(count, 1), kept on the device: no read back in the middle of a step
  const [scale] = runElementwise([constant(-1).div(input(0).max(1))], [reduce('sum', valid)], [], { dtype: xv.dtype });
  return mul(sum(picked), scale);
}

/** mean((x0 - x1)^2) over all elements. */
export function meanSquaredError(x0: VariableLike, x1: VariableLike): Variable {
  const a = argVariable(x0, 'meanSquaredError', 'x0'), b = argVariable(x1, 'meanSquaredError', 'x1');
  if (a.ndim !== b.ndim || a.shape.some((n, i) => n !== b.shape[i])) {
    throw new Error(`meanSquaredError: x0 ${shapeStr(a.shape)} and x1 ${shapeStr(b.shape)} must have the same shape`);
  }
  deviceOf([a.data, b.data], 'meanSquaredError', ['x0', 'x1']);
  const d = sub(a, b);
  return mul(sum(mul(d, d)), 1 / a.size);
}

export interface SigmoidCrossEntropyOptions {
  /** Divide by the number of labels that are not -1 (true, Chainer's default) or by the batch size. */
  normalize?: boolean;
  /** 'mean' gives a scalar; 'no' gives the per-element loss (0 where t is -1). */
  reduce?: 'mean' | 'no';
}

/*
 * -(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))) written as max(x, 0) - x t + log(1 + e^-|x|),
 * so neither tail overflows. The two kinks at 0 take the x >= 0 side together (selects, not
 * max/abs), so the gradient there is sigmoid(0) - t, as in Chainer. Labels of -1 count for nothing.
 */
const sigmoidCrossEntropyOp = elementwise('sigmoidCrossEntropy', ['x', 't'], (x, t) => {
  const pos = x.ge(0);
  const loss = select(pos, x, 0).sub(x.mul(t)).add(select(pos, x.neg(), x).exp().add(1).log());
  return select(t.ne(-1), loss, 0);
});

/**
 * Binary cross entropy of sigmoid(x) against int32 labels t (0, 1, or -1 to ignore), of the
 * same shape as x (Chainer's F.sigmoid_cross_entropy). 'mean' sums the loss and divides by the
 * number of labels that are not -1 (`normalize`, default) or by x.shape[0].
 */
export function sigmoidCrossEntropy(x: VariableLike, t: VariableLike, opts: SigmoidCrossEntropyOptions = {}): Variable {
  checkOptions('sigmoidCrossEntropy', opts, { normalize: BOOLEAN, reduce: oneOf('mean', 'no') });
  const { normalize = true, reduce: mode = 'mean' } = opts;
  const xv = argVariable(x, 'sigmoidCrossEntropy', 'x'), tv = argVariable(t, 'sigmoidCrossEntropy', 't');
  if (tv.dtype !== 'int32') {
    throw new Error(`sigmoidCrossEntropy: t must be an int32 array of labels (0, 1 or -1), got ${tv.dtype} t ${shapeStr(tv.shape)}`);
  }
  if (xv.dtype === 'int32') throw new Error(`sigmoidCrossEntropy: x must be a float array, got int32 x ${shapeStr(xv.shape)}`);
  if (tv.ndim !== xv.ndim || tv.shape.some((n, i) => n !== xv.shape[i])) {
    throw new Error(`sigmoidCrossEntropy: t ${shapeStr(tv.shape)} must have the shape of x ${shapeStr(xv.shape)}`);
  }
  deviceOf([xv.data, tv.data], 'sigmoidCrossEntropy', ['x', 't']);
  const loss = sigmoidCrossEntropyOp(xv, tv);
  if (mode === 'no') return loss;
  if (!normalize) return mul(sum(loss), 1 / Math.max(xv.shape[0] ?? 1, 1));
  // 1 / max(count, 1), kept on the device: no read back in the middle of a step
  const [scale] = runElementwise([constant(1).div(input(0).max(1))], [reduce('sum', tv.data, undefined, false, input(0).ne(constant(-1)))], [], { dtype: xv.dtype });
  return mul(sum(loss), scale);
}
