// Evaluation metrics (not differentiable): accuracy.

import { shapeStr } from '../array/ndarray.js';
import { argmax, array } from '../array/xp.js';
import { Variable, argVariable, type VariableLike } from '../graph/variable.js';

/**
 * Fraction of samples whose argmax over axis 1 of y equals t; samples labelled
 * `ignoreLabel` (when given) are left out. Returns a scalar Variable without a graph.
 */
export function accuracy(y: VariableLike, t: VariableLike, ignoreLabel?: number): Variable {
  const yv = argVariable(y, 'accuracy', 'y'), tv = argVariable(t, 'accuracy', 't');
  if (tv.dtype !== 'int32') throw new Error(`accuracy: t must be an int32 array of labels, got ${tv.dtype}`);
  const expected = [yv.shape[0], ...yv.shape.slice(2)];
  if (yv.ndim < 2 || tv.ndim !== expected.length || tv.shape.some((n, i) => n !== expected[i])) {
    throw new Error(`accuracy: t ${shapeStr(tv.shape)} does not match y ${shapeStr(yv.shape)}: expected t ${shapeStr(expected)}`);
  }
  const pred = argmax(yv.data, 1).toFlat();
  const labels = tv.data.toFlat();
  let hit = 0, count = 0;
  for (let i = 0; i < labels.length; i++) {
    if (ignoreLabel !== undefined && labels[i] === ignoreLabel) continue;
    count++;
    if (pred[i] === labels[i]) hit++;
  }
  return new Variable(array([count === 0 ? 0 : hit / count], [], yv.dtype === 'float64' ? 'float64' : 'float32'), { requiresGrad: false });
}
