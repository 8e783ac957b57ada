// Shape ops and sum: reshape, transpose, broadcastTo and its adjoint sum/sumTo.

import { NDArray, broadcastShapes, checkAxes, checkShape, inferShape, normAxis, sameShape, shapeStr, showShape } from '../array/ndarray.js';
import { input } from '../../compiler/expr.js';
import { reduce } from '../array/xp.js';
import { libraryKernels } from '../array/library-kernels.js';
import { checkKeepdims } from './options.js';
import { FunctionNode, Variable, argVariable, type VariableLike } from '../graph/variable.js';

class Reshape extends FunctionNode {
  readonly label = 'reshape';
  private inShape: readonly number[] = [];
  constructor(private readonly shape: readonly number[]) { super(); }
  forward([x]: readonly NDArray[]): NDArray[] {
    this.inShape = x.shape;
    return [x.reshape(this.shape)];
  }
  backward(_: readonly number[], [gy]: readonly Variable[]): Variable[] { return [reshape(gy, this.inShape)]; }
}

/** y = x viewed with a new shape (one entry may be -1); `reshape(x, 6)` is `reshape(x, [6])`. */
export function reshape(x: VariableLike, shape: readonly number[] | number): Variable {
  const v = argVariable(x, 'reshape', 'x');
  const target = inferShape(typeof shape === 'number' ? [shape] : shape, v.size, 'reshape');
  if (sameShape(target, v.shape)) return v;
  return new Reshape(target).apply([v])[0];
}

class Transpose extends FunctionNode {
  readonly label = 'transpose';
  constructor(private readonly axes: readonly number[]) { super(); }
  forward([x]: readonly NDArray[]): NDArray[] { return [x.transpose(this.axes)]; }
  backward(_: readonly number[], [gy]: readonly Variable[]): Variable[] {
    const inverse = new Array<number>(this.axes.length);
    this.axes.forEach((a, i) => (inverse[a] = i));
    return [transpose(gy, inverse)];
  }
}

/** Permute axes (reverse them when `axes` is omitted). */
export function transpose(x: VariableLike, axes?: readonly number[]): Variable {
  const v = argVariable(x, 'transpose', 'x');
  if (axes !== undefined && !Array.isArray(axes)) throw new Error(`transpose: axes must be a list of axes, got ${showShape(axes)}`);
  const order = axes ?? v.shape.map((_, i) => v.ndim - 1 - i);
  checkAxes(order.map((a) => normAxis(a, v.ndim, 'transpose')), v.ndim, 'transpose');
  return new Transpose(order.map((a) => normAxis(a, v.ndim, 'transpose'))).apply([v])[0];
}

/** Swap two axes. */
export function swapaxes(x: VariableLike, a: number, b: number): Variable {
  const v = argVariable(x, 'swapaxes', 'x');
  const axes = v.shape.map((_, i) => i);
  const i = normAxis(a, v.ndim, 'swapaxes'), j = normAxis(b, v.ndim, 'swapaxes');
  [axes[i], axes[j]] = [axes[j], axes[i]];
  return transpose(v, axes);
}

class BroadcastTo extends FunctionNode {
  readonly label = 'broadcastTo';
  constructor(private readonly shape: readonly number[]) { super(); }
  override checkInputs([x]: readonly NDArray[]): void {
    const b = broadcastShapes([x.shape, this.shape], 'broadcastTo', ['x', 'shape']);
    if (!sameShape(b, this.shape)) throw new Error(`broadcastTo: cannot broadcast x ${shapeStr(x.shape)} to ${shapeStr(this.shape)}`);
  }
  forward([x]: readonly NDArray[]): NDArray[] { return [x.broadcastTo(this.shape)]; }
  backward(_: readonly number[], [gy]: readonly Variable[]): Variable[] { return [sumTo(gy, this.inputs[0].shape)]; }
}

/** y = x broadcast to `shape` (a view; backward sums over the broadcast axes). */
export function broadcastTo(x: VariableLike, shape: readonly number[]): Variable {
  const v = argVariable(x, 'broadcastTo', 'x');
  checkShape(shape, 'broadcastTo');
  if (sameShape(v.shape, shape)) return v;
  return new BroadcastTo(shape.slice()).apply([v])[0];
}

// A built app creates sum's float32 kernels in the background (fusion/background.ts) for the
// pattern the common cases collapse to, one kept dim and one reduced: a bias's gradient (rows
// summed), a whole array (kept [1]), the last axis. Other patterns compile at first use.
libraryKernels(() => [{ reduce: 'sum', map: input(0), inputs: ['float32'], output: 'float32', kept: 1, reduced: 1 }]);

class Sum extends FunctionNode {
  readonly label = 'sum';
  constructor(private readonly axes: readonly number[], private readonly keepdims: boolean) { super(); }
  forward([x]: readonly NDArray[]): NDArray[] { return [reduce('sum', x, this.axes, this.keepdims)]; }
  backward(_: readonly number[], [gy]: readonly Variable[]): Variable[] {
    const x = this.inputs[0];
    const kept = x.shape.map((n, d) => (this.axes.includes(d) ? 1 : n));
    return [broadcastTo(reshape(gy, kept), x.shape)];
  }
}

/** Normalise an `axis` argument (a number, a list, or all axes when omitted). */
export function normAxes(axis: number | readonly number[] | undefined, ndim: number, op: string): number[] {
  if (axis === undefined) return Array.from({ length: ndim }, (_, i) => i);
  if (typeof axis !== 'number' && !Array.isArray(axis)) throw new Error(`${op}: axis must be a number or a list of numbers, got ${showShape(axis)}`);
  const list = typeof axis === 'number' ? [axis] : axis;
  const out = list.map((a) => normAxis(a, ndim, op));
  if (new Set(out).size !== out.length) throw new Error(`${op}: repeated axis in ${shapeStr(list)}`);
  return out.sort((a, b) => a - b);
}

/** Sum over `axis` (all axes when omitted). */
export function sum(x: VariableLike, axis?: number | readonly number[], keepdims = false): Variable {
  const v = argVariable(x, 'sum', 'x');
  checkKeepdims(keepdims, 'sum');
  return new Sum(normAxes(axis, v.ndim, 'sum'), keepdims).apply([v])[0];
}

/** Sum `x` down to `shape` (the adjoint of broadcasting to x's shape). */
export function sumTo(xIn: VariableLike, shape: readonly number[]): Variable {
  const x = argVariable(xIn, 'sumTo', 'x');
  checkShape(shape, 'sumTo');
  if (sameShape(x.shape, shape)) return x;
  const lead = x.ndim - shape.length;
  // checked here: the reshape below would otherwise fail with an error naming reshape
  if (lead < 0 || shape.some((n, d) => n !== 1 && n !== x.shape[d + lead])) {
    throw new Error(`sumTo: cannot sum x ${shapeStr(x.shape)} to ${shapeStr(shape)}: x must be a broadcast of that shape`);
  }
  const axes = x.shape.flatMap((n, d) => (d < lead || (shape[d - lead] === 1 && n !== 1) ? [d] : []));
  const y = axes.length > 0 ? sum(x, axes, true) : x;
  return reshape(y, shape);
}

/** Insert a size-1 axis at `axis`. */
export function expandDims(x: VariableLike, axis: number): Variable {
  const v = argVariable(x, 'expandDims', 'x');
  if (typeof axis !== 'number') throw new Error(`expandDims: axis must be an integer, got ${showShape(axis)}`);
  // the new axis may also go after the last one: -(ndim + 1) <= axis <= ndim
  if (!Number.isInteger(axis) || axis < -(v.ndim + 1) || axis > v.ndim) {
    throw new Error(`expandDims: axis ${axis} out of range for x ${shapeStr(v.shape)}: expected ${-(v.ndim + 1)} <= axis <= ${v.ndim}`);
  }
  const a = axis < 0 ? axis + v.ndim + 1 : axis;
  const shape = v.shape.slice();
  shape.splice(a, 0, 1);
  return reshape(v, shape);
}

/** Remove size-1 axes (the given ones, or all). */
export function squeeze(x: VariableLike, axis?: number | readonly number[]): Variable {
  const v = argVariable(x, 'squeeze', 'x');
  const axes = axis === undefined ? v.shape.flatMap((n, d) => (n === 1 ? [d] : [])) : normAxes(axis, v.ndim, 'squeeze');
  for (const a of axes) if (v.shape[a] !== 1) throw new Error(`squeeze: axis ${a} of x ${shapeStr(v.shape)} has size ${v.shape[a]}, not 1`);
  return reshape(v, v.shape.filter((_, d) => !axes.includes(d)));
}

/** Flatten to 1-D. */
export const flatten = (x: VariableLike): Variable => reshape(argVariable(x, 'flatten', 'x'), [-1]);
