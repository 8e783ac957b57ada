// Indexing and joining: getItem (basic slicing), concat, splitAxis, selectItem (kernels in indexing/select-item.ts).

import { deviceOf } from '../array/backend.js';
import { NDArray, normAxis, shapeStr } from '../array/ndarray.js';
import { assign, concat as concatArrays, sliceAxis, zeros } from '../array/xp.js';
import { FunctionNode, Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { scatterItemArray, selectItemArray } from './indexing/select-item.js';

/** A Python-style slice: `slice(1, 5)`, `slice(null, null, -1)`. */
export interface Slice { readonly start: number | null; readonly stop: number | null; readonly step: number | null }
export const slice = (start: number | null = null, stop: number | null = null, step: number | null = null): Slice => ({ start, stop, step });

/** One index: an integer (drops the axis), a slice, `null` (new axis), or `'...'`. */
export type Index = number | Slice | null | '...';

/** Resolve a basic index into a view's shape, strides and offset (NumPy's rules). */
function resolveIndex(x: NDArray, index: readonly Index[]): { shape: number[]; strides: number[]; offset: number } {
  const ellipses = index.filter((i) => i === '...').length;
  if (ellipses > 1) throw new Error(`getItem: at most one '...' allowed, got ${ellipses}`);
  const consumes = index.filter((i) => i !== null && i !== '...').length;
  if (consumes > x.ndim) throw new Error(`getItem: too many indices (${consumes}) for x ${shapeStr(x.shape)}`);
  const full: Index[] = [];
  for (const i of index) {
    if (i === '...') for (let k = 0; k < x.ndim - consumes; k++) full.push(slice());
    else full.push(i);
  }
  while (full.filter((i) => i !== null).length < x.ndim) full.push(slice());

  const shape: number[] = [], strides: number[] = [];
  let offset = x.offset, axis = 0;
  for (const i of full) {
    if (i === null) { shape.push(1); strides.push(0); continue; }
    const n = x.shape[axis], s = x.strides[axis];
    if (typeof i === 'number') {
      if (!Number.isInteger(i) || i < -n || i >= n) throw new Error(`getItem: index ${i} out of range for axis ${axis} of size ${n}`);
      offset += (i < 0 ? i + n : i) * s;
    } else if (typeof i === 'object') {
      const step = i.step ?? 1;
      if (step === 0 || !Number.isInteger(step)) throw new Error(`getItem: slice step must be a non-zero integer, got ${i.step}`);
      const clampIdx = (v: number | null, dflt: number, lo: number, hi: number) => {
        if (v === null) return dflt;
        const w = v < 0 ? v + n : v;
        return Math.min(Math.max(w, lo), hi);
      };
      const start = step > 0 ? clampIdx(i.start, 0, 0, n) : clampIdx(i.start, n - 1, -1, n - 1);
      const stop = step > 0 ? clampIdx(i.stop, n, 0, n) : clampIdx(i.stop, -1, -1, n - 1);
      const len = Math.max(0, Math.ceil((stop - start) / step));
      shape.push(len);
      strides.push(s * step);
      if (len > 0) offset += start * s;
    } else {
      throw new Error(`getItem: unsupported index ${JSON.stringify(i)}; use integers, slice(), null or '...'`);
    }
    axis++;
  }
  return { shape, strides, offset };
}

class GetItem extends FunctionNode {
  readonly label = 'getItem';
  constructor(private readonly index: readonly Index[]) { super(); }
  forward([x]: readonly NDArray[]): NDArray[] {
    const { shape, strides, offset } = resolveIndex(x, this.index);
    return [x.view(shape, strides, offset)];
  }
  backward(_: readonly number[], [gy]: readonly Variable[]): Variable[] {
    return [new GetItemGrad(this.index, this.inputs[0].shape).apply([gy])[0]];
  }
}

/** The adjoint of getItem: zeros with gy written into the indexed view. */
class GetItemGrad extends FunctionNode {
  readonly label = 'getItemGrad';
  constructor(private readonly index: readonly Index[], private readonly shape: readonly number[]) { super(); }
  forward([gy]: readonly NDArray[]): NDArray[] {
    const gx = zeros(this.shape, gy.dtype, gy.device);
    const { shape, strides, offset } = resolveIndex(gx, this.index);
    assign(gx.view(shape, strides, offset), gy);
    return [gx];
  }
  backward(_: readonly number[], [ggx]: readonly Variable[]): Variable[] { return [getItem(ggx, this.index)]; }
}

/**
 * Basic slicing, NumPy's rules: `getItem(x, [0, slice(1, 3), null, '...'])` is `x[0, 1:3, None, ...]`.
 * Returns a view; backward scatters the gradient into zeros.
 */
export function getItem(x: VariableLike, index: Index | readonly Index[]): Variable {
  const v = argVariable(x, 'getItem', 'x');
  const list = Array.isArray(index) ? (index as readonly Index[]) : [index as Index];
  list.forEach(checkIndex);
  // resolved now, so a bad index fails before any node is made
  resolveIndex(v.data, list);
  return new GetItem(list).apply([v])[0];
}

const isSliceBound = (b: unknown): boolean => b === null || Number.isSafeInteger(b);

/** Each index must be an integer, a slice of integers (or nulls), null or '...'. */
function checkIndex(i: unknown, k: number): void {
  if (i === null || i === '...' || Number.isSafeInteger(i)) return;
  const at = `at position ${k}`;
  if (typeof i === 'number') throw new Error(`getItem: index ${i} ${at} is not an integer`);
  if (Array.isArray(i)) {
    throw new Error(`getItem: index ${JSON.stringify(i)} ${at} is a list; advanced (fancy) indexing is not supported: use integers, slice(), null or '...' (or selectItem)`);
  }
  if (typeof i === 'object' && 'start' in i && 'stop' in i && 'step' in i) {
    const { start, stop, step } = i as Slice;
    for (const [name, b] of [['start', start], ['stop', stop], ['step', step]] as const) {
      if (!isSliceBound(b)) throw new Error(`getItem: slice ${name} ${String(b)} ${at} must be an integer or null`);
    }
    if (step === 0) throw new Error('getItem: slice step must be a non-zero integer, got 0');
    return;
  }
  throw new Error(`getItem: unsupported index ${describeIndex(i)} ${at}; use integers, slice(), null or '...'`);
}

function describeIndex(i: unknown): string {
  if (typeof i === 'string') return JSON.stringify(i);
  if (typeof i === 'object' && i !== null) return (i as object).constructor?.name ?? 'object';
  return String(i);
}

class Concat extends FunctionNode {
  readonly label = 'concat';
  constructor(private readonly axis: number) { super(); }
  override checkInputs(xs: readonly NDArray[]): void {
    const ref = xs[0];
    xs.forEach((x, i) => {
      if (x.ndim !== ref.ndim || x.shape.some((n, d) => d !== this.axis && n !== ref.shape[d])) {
        throw new Error(`concat: xs[${i}] ${shapeStr(x.shape)} does not match xs[0] ${shapeStr(ref.shape)} outside axis ${this.axis}`);
      }
      if (x.dtype !== ref.dtype) throw new Error(`concat: xs[${i}] is ${x.dtype} but xs[0] is ${ref.dtype}`);
    });
    deviceOf(xs, 'concat', xs.map((_, i) => `xs[${i}]`));
  }
  forward(xs: readonly NDArray[]): NDArray[] { return [concatArrays(xs, this.axis)]; }
  backward(targets: readonly number[], [gy]: readonly Variable[]): Variable[] {
    const bounds: number[] = [];
    let at = 0;
    for (const x of this.inputs.slice(0, -1)) bounds.push((at += x.shape[this.axis]));
    const parts = splitAxis(gy, bounds, this.axis);
    return targets.map((i) => parts[i]);
  }
}

/** Join variables along `axis` (default 1, as in Chainer). */
export function concat(xs: readonly VariableLike[], axis = 1): Variable {
  if (!Array.isArray(xs)) throw new Error(`concat: xs must be a list of arrays, got ${describeIndex(xs)}`);
  if (xs.length === 0) throw new Error('concat: xs is empty');
  const vs = xs.map((x, i) => argVariable(x, 'concat', `xs[${i}]`));
  return new Concat(normAxis(axis, vs[0].ndim, 'concat')).apply(vs)[0];
}

class SplitAxis extends FunctionNode {
  readonly label = 'splitAxis';
  constructor(private readonly bounds: readonly number[], private readonly axis: number) { super(); }
  forward([x]: readonly NDArray[]): NDArray[] {
    const edges = [0, ...this.bounds, x.shape[this.axis]];
    return edges.slice(0, -1).map((s, i) => sliceAxis(x, this.axis, s, edges[i + 1]));
  }
  backward(_: readonly number[], gys: readonly Variable[]): Variable[] { return [concat(gys, this.axis)]; }
}

/**
 * Split along `axis` into `sections` equal parts (a number) or at the given indices
 * (a list, as numpy.split).
 */
export function splitAxis(x: VariableLike, indicesOrSections: number | readonly number[], axis: number): Variable[] {
  const v = argVariable(x, 'splitAxis', 'x');
  const a = normAxis(axis, v.ndim, 'splitAxis');
  const n = v.shape[a];
  let bounds: number[];
  if (typeof indicesOrSections === 'number') {
    const k = indicesOrSections;
    if (!Number.isInteger(k) || k <= 0 || n % k !== 0) {
      throw new Error(`splitAxis: axis ${a} of x ${shapeStr(v.shape)} (size ${n}) cannot be split into ${k} equal sections`);
    }
    bounds = Array.from({ length: k - 1 }, (_, i) => ((i + 1) * n) / k);
  } else if (Array.isArray(indicesOrSections)) {
    const bad = indicesOrSections.findIndex((i) => !Number.isSafeInteger(i));
    if (bad >= 0) throw new Error(`splitAxis: indices must be integers, got ${indicesOrSections[bad]} at position ${bad}`);
    bounds = indicesOrSections.map((i) => Math.min(Math.max(i < 0 ? i + n : i, 0), n));
    if (bounds.some((b, i) => i > 0 && b < bounds[i - 1])) throw new Error(`splitAxis: indices ${shapeStr(indicesOrSections)} must be increasing`);
  } else {
    throw new Error(`splitAxis: indicesOrSections must be a number of sections or a list of indices, got ${describeIndex(indicesOrSections)}`);
  }
  return new SplitAxis(bounds, a).apply([v]);
}

class SelectItem extends FunctionNode {
  readonly label = 'selectItem';
  forward([x, t]: readonly NDArray[]): NDArray[] { return [selectItemArray(x, t)]; }
  backward(targets: readonly number[], [gy]: readonly Variable[]): (Variable | null)[] {
    const [x, t] = this.inputs;
    return targets.map((i) => (i === 0 ? new ScatterItem(x.shape).apply([gy, t])[0] : null));
  }
}

class ScatterItem extends FunctionNode {
  readonly label = 'scatterItem';
  constructor(private readonly shape: readonly number[]) { super(); }
  forward([gy, t]: readonly NDArray[]): NDArray[] { return [scatterItemArray(gy, t, this.shape)]; }
  backward(targets: readonly number[], [ggx]: readonly Variable[]): (Variable | null)[] {
    return targets.map((i) => (i === 0 ? selectItem(ggx, this.inputs[1]) : null));
  }
}

/** y[i] = x[i, t[i]] for x (N, C) and int32 labels t (N,); out-of-range labels give 0. */
export function selectItem(x: VariableLike, t: VariableLike): Variable {
  const xv = argVariable(x, 'selectItem', 'x'), tv = argVariable(t, 'selectItem', 't');
  if (xv.ndim !== 2) throw new Error(`selectItem: x must be 2-D (N, C), got x ${shapeStr(xv.shape)}`);
  if (tv.dtype !== 'int32') throw new Error(`selectItem: t must be an int32 array of indices, got ${tv.dtype}`);
  if (tv.ndim !== 1 || tv.shape[0] !== xv.shape[0]) {
    throw new Error(`selectItem: t ${shapeStr(tv.shape)} does not match x ${shapeStr(xv.shape)}: expected t (${xv.shape[0]},)`);
  }
  return new SelectItem().apply([xv, tv])[0];
}
