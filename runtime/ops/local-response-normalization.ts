// localResponseNormalization: Chainer's LRN across channels, composed: the window sum of squares is a convolution with ones along the channel axis.

import { shapeStr } from '../array/ndarray.js';
import { full } from '../array/xp.js';
import { Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { add, mul, pow } from './arithmetic.js';
import { convolution2d } from './convolution-2d.js';
import { reshape } from './shape.js';
import { CHECKED_BELOW, checkOptions } from './options.js';

export interface LocalResponseNormalizationOptions {
  /** Channels in the window: c - floor(n / 2) .. c + floor(n / 2); default 5. */
  n?: number;
  /** Added to the scaled sum; default 2. */
  k?: number;
  /** Scale of the sum of squares (not divided by n, as in Chainer); default 1e-4. */
  alpha?: number;
  /** Exponent; default 0.75. */
  beta?: number;
}

/**
 * y[:, c] = x[:, c] / (k + alpha * sum over c' = c - floor(n/2) .. c + floor(n/2) of x[:, c']^2)^beta,
 * channels outside [0, C) left out of the sum, for x (N, C, ...). Chainer's
 * local_response_normalization; Caffe's ACROSS_CHANNELS LRN divides alpha by n, so a
 * Caffe layer is this with alpha / local_size.
 *
 * ```ts
 * const y = F.localResponseNormalization(x, { n: 5, k: 2, alpha: 1e-4, beta: 0.75 });
 * ```
 */
export function localResponseNormalization(x: VariableLike, opts: LocalResponseNormalizationOptions = {}): Variable {
  const op = 'localResponseNormalization';
  checkOptions(op, opts, { n: CHECKED_BELOW, k: CHECKED_BELOW, alpha: CHECKED_BELOW, beta: CHECKED_BELOW });
  const xv = argVariable(x, op, 'x');
  const { n = 5, k = 2, alpha = 1e-4, beta = 0.75 } = opts;
  if (xv.ndim < 2) throw new Error(`${op}: x must have a channel axis (N, C, ...), got x ${shapeStr(xv.shape)}`);
  if (xv.dtype === 'int32') throw new Error(`${op}: expected a float array, got x int32`);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${op}: n must be a positive integer, got ${n}`);
  for (const [name, v] of [['k', k], ['alpha', alpha], ['beta', beta]] as const) {
    if (!Number.isFinite(v)) throw new Error(`${op}: ${name} must be a finite number, got ${v}`);
  }
  if (xv.size === 0) throw new Error(`${op}: x ${shapeStr(xv.shape)} is empty`);
  const [batch, c] = xv.shape, rest = xv.size / (batch * c), half = Math.floor(n / 2);
  const ones = new Variable(full([1, 1, 2 * half + 1, 1], 1, xv.dtype, xv.data.device), { requiresGrad: false });
  // channels as the rows of a one-channel image: a (2 half + 1) x 1 window of ones sums them
  const sq = reshape(mul(xv, xv), [batch, 1, c, rest]);
  const sums = reshape(convolution2d(sq, ones, undefined, { pad: [half, 0] }), xv.shape);
  return mul(xv, pow(add(mul(sums, alpha), k), -beta));
}
