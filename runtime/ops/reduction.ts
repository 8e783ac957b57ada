// Reductions beyond sum: mean (composed), max/min (their own nodes), argmax/argmin (kernels in reduction/arg-reduce.ts).

import { input } from '../../compiler/expr.js';
import { NDArray } from '../array/ndarray.js';
import { elementwise, reduce } from '../array/xp.js';
import { normAxis, shapeStr } from '../array/ndarray.js';
import { FunctionNode, Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { mul } from './arithmetic.js';
import { checkKeepdims } from './options.js';
import { argmaxArray, argminArray } from './reduction/arg-reduce.js';
import { broadcastTo, normAxes, reshape, sum } from './shape.js';

/** Mean over `axis` (all axes when omitted). */
export function mean(x: VariableLike, axis?: number | readonly number[], keepdims = false): Variable {
  const v = argVariable(x, 'mean', 'x');
  checkKeepdims(keepdims, 'mean');
  const axes = normAxes(axis, v.ndim, 'mean');
  const n = axes.reduce((p, a) => p * v.shape[a], 1);
  return mul(sum(v, axes, keepdims), 1 / n);
}

class Extremum extends FunctionNode {
  constructor(readonly label: 'max' | 'min', private readonly axes: readonly number[], private readonly keepdims: boolean) { super(); }
  override checkInputs([x]: readonly NDArray[]): void {
    if (x.size === 0) throw new Error(`${this.label}: x is empty; the ${this.label} of no elements is undefined`);
  }
  forward([x]: readonly NDArray[]): NDArray[] { return [reduce(this.label, x, this.axes, this.keepdims)]; }
  backward(_: readonly number[], [gy]: readonly Variable[]): Variable[] {
    const x = this.inputs[0];
    const kept = x.shape.map((n, d) => (this.axes.includes(d) ? 1 : n));
    // Every element equal to the extremum receives the gradient (ties share it, as in Chainer).
    const y = reduce(this.label, x.data, this.axes, true);
    const [mask] = elementwise([input(0).eq(input(1))], [x.data, y], [], { dtype: x.dtype });
    return [mul(broadcastTo(reshape(gy, kept), x.shape), mask)];
  }
}

/** Max over `axis` (all axes when omitted). */
export function max(x: VariableLike, axis?: number | readonly number[], keepdims = false): Variable {
  const v = argVariable(x, 'max', 'x');
  checkKeepdims(keepdims, 'max');
  return new Extremum('max', normAxes(axis, v.ndim, 'max'), keepdims).apply([v])[0];
}

/** Min over `axis` (all axes when omitted). */
export function min(x: VariableLike, axis?: number | readonly number[], keepdims = false): Variable {
  const v = argVariable(x, 'min', 'x');
  checkKeepdims(keepdims, 'min');
  return new Extremum('min', normAxes(axis, v.ndim, 'min'), keepdims).apply([v])[0];
}

/**
 * The array argReduce runs over: x itself, or x flattened when no axis is given (NumPy's and
 * Chainer's argmax(x) is over all elements, giving a 0-d index into the flat array).
 */
function argOperand(op: 'argmax' | 'argmin', x: VariableLike, axis: number | undefined): [NDArray, number] {
  const v = argVariable(x, op, 'x');
  if (v.size === 0) throw new Error(`${op}: x ${shapeStr(v.shape)} is empty; the ${op} of no elements is undefined`);
  if (axis === undefined || axis === null) return [v.data.reshape([v.size]), 0];
  if (typeof axis !== 'number') throw new Error(`${op}: axis must be an integer, got ${typeof axis}`);
  return [v.data, normAxis(axis, v.ndim, op)];
}

/** Index of the max along `axis`, or into the flattened x when no axis is given (int32, not differentiable); the first NaN wins. */
export function argmax(x: VariableLike, axis?: number): Variable {
  const [a, ax] = argOperand('argmax', x, axis);
  return new Variable(argmaxArray(a, ax), { requiresGrad: false });
}

/** Index of the min along `axis`, or into the flattened x when no axis is given (int32, not differentiable); the first NaN wins. */
export function argmin(x: VariableLike, axis?: number): Variable {
  const [a, ax] = argOperand('argmin', x, axis);
  return new Variable(argminArray(a, ax), { requiresGrad: false });
}
