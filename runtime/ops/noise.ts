// Dropout: a random mask multiplied in while training, the identity in test mode.

import { input, scalar } from '../../compiler/expr.js';
import { elementwise, randomUniform } from '../array/xp.js';
import { config } from '../graph/config.js';
import { Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { mul } from './arithmetic.js';

/**
 * Zero each element with probability `ratio` and scale the rest by 1 / (1 - ratio), when
 * `config.train` is true; otherwise return x unchanged (inverted dropout, as in Chainer).
 */
export function dropout(x: VariableLike, ratio = 0.5): Variable {
  if (!(ratio >= 0 && ratio < 1)) throw new Error(`dropout: ratio must be in [0, 1), got ${ratio}`);
  const v = argVariable(x, 'dropout', 'x');
  if (!config.train || ratio === 0) return v;
  const u = randomUniform(v.shape, 0, 1, { dtype: v.dtype, device: v.data.device });
  const [mask] = elementwise([input(0).ge(scalar(0)).mul(scalar(1))], [u], [ratio, 1 / (1 - ratio)], { dtype: v.dtype });
  return mul(v, mask);
}
