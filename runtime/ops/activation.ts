// Activations: elementwise ones as IR expressions, softmax family composed of other ops.

import { select } from '../../compiler/expr.js';
import { reduce } from '../array/xp.js';
import { Variable, asVariable, argVariable, type VariableLike } from '../graph/variable.js';
import { exp, log, sub, div } from './arithmetic.js';
import { elementwise } from './elementwise.js';
import { checkFinite } from './options.js';
import { normAxes, sum } from './shape.js';

/**
 * y = max(x, 0). Written as a select, not max(x, 0): the gradient at 0 is 0, as in Chainer;
 * and as `x <= 0 ? 0 : x`, so relu(NaN) is NaN (as in NumPy and PyTorch) and a diverging
 * run shows.
 */
export const relu = elementwise('relu', ['x'], (x) => select(x.le(0), 0, x), { intClosed: true });

/** y = tanh(x) */
export const tanh = elementwise('tanh', ['x'], (x) => x.tanh());

/** y = 1 / (1 + e^-x), as 0.5 tanh(x/2) + 0.5 so neither tail overflows (also in backward). */
export const sigmoid = elementwise('sigmoid', ['x'], (x) => x.mul(0.5).tanh().mul(0.5).add(0.5));

const leakyReluOp = elementwise('leakyRelu', ['x', 'slope'], (x, a) => select(x.gt(0), x, x.mul(a)));
/** y = x for x > 0, slope * x otherwise. */
export function leakyRelu(x: VariableLike, slope = 0.2): Variable {
  checkFinite(slope, 'leakyRelu', 'slope');
  return leakyReluOp(x, slope);
}

const softplusOp = elementwise('softplus', ['x', 'beta'], (x, beta) => {
  const bx = x.mul(beta);
  // log(1 + e^bx) = max(bx, 0) + log(1 + e^-|bx|): no overflow for large |x|. Both kinks
  // take the bx >= 0 side (not abs(), whose gradient is 0 at 0), so at 0 they sum to 1 - 1/2.
  const pos = bx.ge(0);
  return select(pos, bx, 0).add(select(pos, bx.neg(), bx).exp().add(1).log()).div(beta);
});
/** y = log(1 + e^(beta x)) / beta */
export function softplus(x: VariableLike, beta = 1): Variable {
  checkFinite(beta, 'softplus', 'beta', true);
  return softplusOp(x, beta);
}

const eluOp = elementwise('elu', ['x', 'alpha'], (x, a) => select(x.gt(0), x, a.mul(x.exp().sub(1))));
/** y = x for x > 0, alpha (e^x - 1) otherwise. */
export function elu(x: VariableLike, alpha = 1): Variable {
  checkFinite(alpha, 'elu', 'alpha');
  return eluOp(x, alpha);
}

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
