// One user kernel's launch on arrays; in the graph it is the shared Elementwise node.

import type { Expr } from '../../compiler/expr.js';
import { deviceOf } from '../array/backend.js';
import { NDArray, broadcastShapes, type DType } from '../array/ndarray.js';
import { elementwise, zeros } from '../array/xp.js';
import { Variable } from '../graph/variable.js';
import { Elementwise } from '../ops/elementwise.js';

/**
 * Evaluate `roots` over `arrays` (broadcast together) in one kernel on their device,
 * output j of dtype `dtypes[j]`. `label` and `names` word the errors.
 */
export function runKernel(
  label: string, roots: readonly Expr[], arrays: readonly NDArray[], names: readonly string[],
  scalars: readonly number[], dtypes: readonly DType[],
): NDArray[] {
  const shape = broadcastShapes(arrays.map((a) => a.shape), label, names);
  const device = deviceOf(arrays, label, names);
  if (dtypes.every((d) => d === dtypes[0])) return elementwise(roots, arrays, scalars, { dtype: dtypes[0], op: label });
  // the backends give all outputs one dtype unless handed the output arrays
  const outs = dtypes.map((d) => zeros(shape, d, device));
  return elementwise(roots, arrays, scalars, { outs, op: label });
}

/**
 * A user kernel in the graph: the one Elementwise node every elementwise computation uses
 * (one launch for all outputs forward, one for every input gradient backward).
 */
export function applyKernel(
  label: string, roots: readonly Expr[], scalars: readonly number[], dtypes: readonly DType[],
  names: readonly string[], arrays: readonly (Variable | NDArray)[],
): Variable[] {
  return new Elementwise(label, roots, scalars, names, dtypes).apply(arrays);
}
