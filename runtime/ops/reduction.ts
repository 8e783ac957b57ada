// Reductions beyond sum: mean (composed), max/min (their own nodes), argmax/argmin (kernels in reduction/arg-reduce.ts).

import { input } from '../../compiler/expr.js';
import { NDArray } from '../array/ndarray.js';
import { elementwise, reduce } from '../array/xp.js';
import { normAxis } from '../array/ndarray.js';
import { FunctionNode, Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { mul } from './arithmetic.js';
import { argmaxArray, argminArray } from './reduction/arg-reduce.js';
import { broadcastTo, normAxes, reshape, sum } from './shape.js';

/** Mean over `axis` (all axes when omitted). */
export function mean(x: VariableLike, axis?: number | readonly number[], keepdims = false): Variable {
  const v = argVariable(x, 'mean', 'x');
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
  return new Extremum('max', normAxes(axis, v.ndim, 'max'), keepdims).apply([v])[0];
}

/** Min over `axis` (all axes when omitted). */
export function min(x: VariableLike, axis?: number | readonly number[], keepdims = false): Variable {
  const v = argVariable(x, 'min', 'x');
  return new Extremum('min', normAxes(axis, v.ndim, 'min'), keepdims).apply([v])[0];
}

/** Index of the max along `axis` (int32, not differentiable). */
export function argmax(x: VariableLike, axis = 0): Variable {
  const v = argVariable(x, 'argmax', 'x');
  return new Variable(argmaxArray(v.data, normAxis(axis, v.ndim, 'argmax')), { requiresGrad: false });
}

/** Index of the min along `axis` (int32, not differentiable). */
export function argmin(x: VariableLike, axis = 0): Variable {
  const v = argVariable(x, 'argmin', 'x');
  return new Variable(argminArray(v.data, normAxis(axis, v.ndim, 'argmin')), { requiresGrad: false });
}
