// Dropout: a random mask multiplied in while training, the identity in test mode.

import { input, scalar } from '../../compiler/expr.js';
import { randomUniform } from '../array/random-uniform.js';
import { config } from '../graph/config.js';
import { Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { applyExpr } from './elementwise.js';

// x * [u >= ratio] / (1 - ratio) over x = input(0), u = input(1), ratio = scalar(0),
// 1 / (1 - ratio) = scalar(1): the mask is never stored, forward and backward each read u in
// ONE kernel (before: a mask kernel, then a multiply; u's gradient is never asked for)
const DROPOUT = input(0).mul(input(1).ge(scalar(0)).mul(scalar(1)));

/**
 * Zero each element with probability `ratio` and scale the rest by 1 / (1 - ratio), when
 * `config.train` is true; otherwise return x unchanged (inverted dropout, as in Chainer).
 */
export function dropout(x: VariableLike, ratio = 0.5): Variable {
  if (!(ratio >= 0 && ratio < 1)) throw new Error(`dropout: ratio must be in [0, 1), got ${ratio}`);
  const v = argVariable(x, 'dropout', 'x');
  if (!config.train || ratio === 0) return v;
  const u = randomUniform(v.shape, 0, 1, { dtype: v.dtype, device: v.data.device });
  return applyExpr('dropout', DROPOUT, [v, new Variable(u, { requiresGrad: false })], [ratio, 1 / (1 - ratio)]);
}
