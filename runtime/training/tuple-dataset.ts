// TupleDataset: columns of equal length read together, example i being (col0[i], col1[i], ...).

import { NDArray, shapeStr } from '../array/ndarray.js';
import { checkIndex, describe, type Dataset } from './dataset.js';

/** What a column may be: an NDArray (indexed on axis 0), a typed array or a JS array. */
export type Column = NDArray | ArrayLike<unknown>;

/**
 * The element a column yields: a row view for an NDArray (a 0-d view for a 1-D array, so
 * the dtype travels with it), a 0-d NDArray for a typed array, the element for a JS array.
 */
export type ColumnItem<C> = C extends NDArray ? NDArray : C extends ArrayBufferView ? NDArray : C extends ArrayLike<infer E> ? E : never;

/**
 * Chainer's TupleDataset. Example `i` is the tuple of every column's `i`-th item; rows of
 * NDArray columns are views, so nothing is copied until `concatExamples` stacks a batch.
 *
 * ```ts
 * const train = new TupleDataset(x, t);   // x (N, 784) float32, t (N,) int32
 * const [xi, ti] = train.get(0);          // xi (784,) float32, ti () int32
 * ```
 */
export class TupleDataset<C extends readonly Column[]> implements Dataset<{ -readonly [K in keyof C]: ColumnItem<C[K]> }> {
  readonly length: number;
  private readonly columns: readonly (NDArray | ArrayLike<unknown>)[];

  constructor(...columns: C) {
    if (columns.length === 0) throw new Error('TupleDataset: expected at least one column, got none');
    this.columns = columns.map((c, k) => {
      if (c instanceof NDArray) {
        if (c.ndim === 0) throw new Error(`TupleDataset: column ${k} is a 0-d array; expected an axis of examples`);
        return c;
      }
      // typed arrays become 1-D NDArrays so that their dtype (int32 labels, float targets) survives
      if (c instanceof Float32Array || c instanceof Float64Array || c instanceof Int32Array) return new NDArray(c, [c.length]);
      if (c === null || typeof c !== 'object' || !Number.isInteger((c as ArrayLike<unknown>).length)) {
        throw new Error(`TupleDataset: column ${k} must be an NDArray, a typed array or an array, got ${describe(c)}`);
      }
      if (ArrayBuffer.isView(c)) throw new Error(`TupleDataset: column ${k} is a ${describe(c)}; use a Float32Array, Float64Array or Int32Array`);
      return c;
    });
    const lengths = this.columns.map((c) => (c instanceof NDArray ? c.shape[0] : c.length));
    if (lengths.some((n) => n !== lengths[0])) {
      const seen = this.columns.map((c, k) => `column ${k} ${c instanceof NDArray ? shapeStr(c.shape) : `length ${lengths[k]}`}`);
      throw new Error(`TupleDataset: columns must have the same length, got ${seen.join(', ')}`);
    }
    this.length = lengths[0];
  }

  get(i: number): { -readonly [K in keyof C]: ColumnItem<C[K]> } {
    checkIndex(i, this.length, 'TupleDataset.get');
    return this.columns.map((c) => (c instanceof NDArray ? row(c, i) : c[i])) as { -readonly [K in keyof C]: ColumnItem<C[K]> };
  }
}

/** The view x[i] (no copy). */
function row(x: NDArray, i: number): NDArray {
  return x.view(x.shape.slice(1), x.strides.slice(1), x.offset + i * x.strides[0]);
}
