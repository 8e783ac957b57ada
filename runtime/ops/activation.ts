// Activations: elementwise ones as IR expressions, softmax family and logSumExp composed of other ops.

import { select } from '../../compiler/expr.js';
import { reduce } from '../array/xp.js';
import { Variable, asVariable, argVariable, type VariableLike } from '../graph/variable.js';
import { shapeStr } from '../array/ndarray.js';
import { add, exp, log, sub, div } from './arithmetic.js';
import { elementwise, withDef } from './elementwise.js';
import { checkFinite } from './options.js';
import { normAxes, reshape, sum } from './shape.js';

/**
 * y = max(x, 0). Written as a select, not max(x, 0): the gradient at 0 is 0, as in Chainer;
 * and as `x <= 0 ? 0 : x`, so relu(NaN) is NaN (as in NumPy and PyTorch) and a diverging
 * run shows.
 */
export const relu = elementwise({ name: 'relu', args: ['x'], build: (x) => select(x.le(0), 0, x), intClosed: true });

/** y = tanh(x) */
export const tanh = elementwise({ name: 'tanh', args: ['x'], build: (x) => x.tanh() });

/**
 * y = 1 / (1 + e^-x): the IR's sigmoid primitive, whose derivative y (1 - y) is read from the
 * output, so neither tail overflows and the negative one follows e^x instead of reaching 0 at
 * x = -17 (as 0.5 tanh(x/2) + 0.5 did), with a finite gradient everywhere.
 */
export const sigmoid = elementwise({ name: 'sigmoid', args: ['x'], build: (x) => x.sigmoid() });

const leakyReluOp = elementwise({
  name: 'leakyRelu', args: ['x', 'slope'], kinds: { slope: 'number' }, defaults: { slope: 0.2 },
  build: (x, a) => select(x.gt(0), x, x.mul(a)),
  check: (_, slope) => checkFinite(slope, 'leakyRelu', 'slope'),
});
/** y = x for x > 0, slope * x otherwise. */
export const leakyRelu = withDef(leakyReluOp, (x: VariableLike, slope = 0.2): Variable => leakyReluOp(x, slope));

const softplusOp = elementwise({
  name: 'softplus', args: ['x', 'beta'], kinds: { beta: 'number' }, defaults: { beta: 1 },
  check: (_, beta) => checkFinite(beta, 'softplus', 'beta', true),
  build: (x, beta) => {
  const bx = x.mul(beta);
  // log(1 + e^bx) = max(bx, 0) + log(1 + e^-|bx|): no overflow for large |x|. Both kinks
  // take the bx >= 0 side (not abs(), whose gradient is 0 at 0), so at 0 they sum to 1 - 1/2.
  const pos = bx.ge(0);
  return select(pos, bx, 0).add(select(pos, bx.neg(), bx).exp().add(1).log()).div(beta);
  },
});
/** y = log(1 + e^(beta x)) / beta */
export const softplus = withDef(softplusOp, (x: VariableLike, beta = 1): Variable => softplusOp(x, beta));

const eluOp = elementwise({
  name: 'elu', args: ['x', 'alpha'], kinds: { alpha: 'number' }, defaults: { alpha: 1 },
  build: (x, a) => select(x.gt(0), x, a.mul(x.exp().sub(1))),
  check: (_, alpha) => checkFinite(alpha, 'elu', 'alpha'),
});
/** y = x for x > 0, alpha (e^x - 1) otherwise. */
export const elu = withDef(eluOp, (x: VariableLike, alpha = 1): Variable => eluOp(x, alpha));

/** The max over `axis` as a constant: softmax is shift-invariant, so no gradient is lost. */
function stopGradientMax(x: Variable, axis: number): Variable {
  return asVariable(reduce('max', x.data, normAxes(axis, x.ndim, 'softmax'), true));
}

/** y = e^x / sum(e^x) along `axis` (default 1), computed on x - max(x) for stability. */
export function softmax(x: VariableLike, axis = 1): Variable {
  const v = argVariable(x, 'softmax', 'x');
  normAxes(axis, v.ndim, 'softmax');
  const e = exp(sub(v, stopGradientMax(v, axis)));
  return div(e, sum(e, axis, true));
}

/** y = x - log(sum(e^x)) along `axis` (default 1), stable for large inputs. */
export function logSoftmax(x: VariableLike, axis = 1): Variable {
  const v = argVariable(x, 'logSoftmax', 'x');
  normAxes(axis, v.ndim, 'logSoftmax');
  const shifted = sub(v, stopGradientMax(v, axis));
  return sub(shifted, log(sum(exp(shifted), axis, true)));
}

/**
 * y = clip(0.2 x + 0.5, 0, 1) (Chainer's hard sigmoid). Selects, not max/min, so the
 * gradient is 0.2 strictly inside (-2.5, 2.5) and 0 at and beyond the corners, as in Chainer.
 */
export const hardSigmoid = elementwise({ name: 'hardSigmoid', args: ['x'], build: (x) => select(x.le(-2.5), 0, select(x.ge(2.5), 1, x.mul(0.2).add(0.5))) });

const swishOp = elementwise({ name: 'swish', args: ['x', 'beta'], build: (x, b) => x.mul(x.mul(b).mul(0.5).tanh().mul(0.5).add(0.5)) });
/**
 * y = x sigmoid(beta x) (Chainer's F.swish). `beta` is a number, or an array whose shape is
 * x.shape[1 : 1 + beta.ndim] (one trainable beta per channel, broadcast over the rest).
 */
export const swish = withDef(swishOp, function swish(x: VariableLike, beta: VariableLike): Variable {
  const v = argVariable(x, 'swish', 'x');
  if (typeof beta === 'number') {
    checkFinite(beta, 'swish', 'beta');
    return swishOp(v, beta);
  }
  const b = argVariable(beta, 'swish', 'beta');
  const want = v.shape.slice(1, 1 + b.ndim);
  if (v.ndim < 1 + b.ndim || b.shape.some((n, i) => n !== want[i])) {
    throw new Error(`swish: beta ${shapeStr(b.shape)} must match x ${shapeStr(v.shape)} from axis 1: expected beta ${shapeStr(want)}`);
  }
  // trailing ones so that NumPy's right-aligned broadcasting lines beta up with axis 1
  return swishOp(v, reshape(b, [...b.shape, ...new Array<number>(v.ndim - 1 - b.ndim).fill(1)]));
});

/**
 * y = x Phi(x) in its tanh form, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (Hendrycks
 * and Gimpel's approximation, as in BERT and GPT-2): the expression IR has no erf, and this
 * form stays one fused elementwise kernel on both devices. It differs from the erf form by < 1e-3.
 */
export const gelu = elementwise({
  name: 'gelu', args: ['x'],
  build: (x) => x.mul(0.5).mul(x.mul(x).mul(x).mul(0.044715).add(x).mul(Math.sqrt(2 / Math.PI)).tanh().add(1)),
});

/**
 * y = log(sum(exp(x))) over `axis` (all axes when omitted), computed as m + log(sum(exp(x - m)))
 * with m the max, so large inputs do not overflow. The gradient is softmax(x) over `axis`.
 */
export function logSumExp(x: VariableLike, axis?: number | readonly number[]): Variable {
  const v = argVariable(x, 'logSumExp', 'x');
  const axes = normAxes(axis, v.ndim, 'logSumExp');
  if (v.size === 0) throw new Error(`logSumExp: x ${shapeStr(v.shape)} is empty; the log-sum-exp of no elements is -Infinity`);
  // m is a constant: log-sum-exp is shift-invariant, so no gradient is lost through it
  const m = reduce('max', v.data, axes, true);
  const s = log(sum(exp(sub(v, m)), axes));
  return add(s, m.reshape(s.shape));
}
