// Evaluation metrics (not differentiable): accuracy.

import { deviceOf } from '../array/backend.js';
import { shapeStr } from '../array/ndarray.js';
import { constant, input, scalar } from '../../compiler/expr.js';
import { elementwise, reduce } from '../array/xp.js';
import { Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { argmaxArray } from './reduction/arg-reduce.js';

/**
 * Fraction of samples whose argmax over axis 1 of y equals t; samples labelled
 * `ignoreLabel` (when given) are left out. Returns a scalar Variable without a graph.
 */
export function accuracy(y: VariableLike, t: VariableLike, ignoreLabel?: number): Variable {
  const yv = argVariable(y, 'accuracy', 'y'), tv = argVariable(t, 'accuracy', 't');
  if (ignoreLabel !== undefined && !Number.isSafeInteger(ignoreLabel)) throw new Error(`accuracy: ignoreLabel must be an integer, got ${ignoreLabel}`);
  if (tv.dtype !== 'int32') throw new Error(`accuracy: t must be an int32 array of labels, got ${tv.dtype}`);
  const expected = [yv.shape[0], ...yv.shape.slice(2)];
  if (yv.ndim < 2 || tv.ndim !== expected.length || tv.shape.some((n, i) => n !== expected[i])) {
    throw new Error(`accuracy: t ${shapeStr(tv.shape)} does not match y ${shapeStr(yv.shape)}: expected t ${shapeStr(expected)}`);
  }
  deviceOf([yv.data, tv.data], 'accuracy', ['y', 't']);
  // computed with array ops on y's device, so evaluating on a GPU needs no read back
  const dtype = yv.dtype === 'float64' ? 'float64' : 'float32';
  const pred = argmaxArray(yv.data, 1);
  const valid = ignoreLabel === undefined ? constant(1) : input(1).ne(scalar(0));
  const [hits, counted] = elementwise([input(0).eq(input(1)).mul(valid), valid], [pred, tv.data], [ignoreLabel ?? 0], { dtype })
    .map((a) => reduce('sum', a));
  const [acc] = elementwise([input(0).div(input(1).max(1))], [hits, counted], [], { dtype });
  return new Variable(acc, { requiresGrad: false });
}
