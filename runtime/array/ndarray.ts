// NDArray: a strided view (shape, strides, offset, dtype) over one device's storage.

import type { NumArray } from '../../compiler/js.js';

export type DType = 'float32' | 'float64' | 'int32';
export type Device = 'cpu';
export type TypedArray = Float32Array | Float64Array | Int32Array;

export const TYPED: { [D in DType]: { new (n: number): TypedArray; new (a: ArrayLike<number>): TypedArray } } = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
};

export const isFloat = (d: DType): boolean => d !== 'int32';

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
export const shapeStr = (shape: readonly number[]): string => `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;

export function dtypeOf(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  return 'int32';
}

/**
 * An n-dimensional array. Arrays are treated as values: ops return new arrays or views, and
 * only optimizers write into parameters in place. Views (reshape of contiguous data,
 * transpose, broadcastTo, basic slicing) share storage and copy nothing.
 */
export class NDArray {
  readonly size: number;

  constructor(
    readonly buffer: TypedArray,
    readonly shape: readonly number[],
    readonly strides: readonly number[] = contiguousStrides(shape),
    readonly offset = 0,
  ) {
    this.size = sizeOf(shape);
  }

  get dtype(): DType { return dtypeOf(this.buffer); }
  get ndim(): number { return this.shape.length; }
  get device(): Device { return 'cpu'; }

  get isContiguous(): boolean {
    let acc = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.strides[d] !== acc) return false;
      acc *= this.shape[d];
    }
    return true;
  }

  toString(): string {
    return `NDArray(${shapeStr(this.shape)}, ${this.dtype})`;
  }

  /** The elements in C order as a fresh typed array (a copy even when contiguous). */
  toFlat(): TypedArray {
    const out = new TYPED[this.dtype](this.size);
    if (this.isContiguous) {
      out.set(this.buffer.subarray(this.offset, this.offset + this.size));
      return out;
    }
    let i = 0;
    const walk = (d: number, p: number) => {
      if (d === this.shape.length) { out[i++] = this.buffer[p]; return; }
      for (let j = 0; j < this.shape[d]; j++) walk(d + 1, p + j * this.strides[d]);
    };
    walk(0, this.offset);
    return out;
  }

  /** Synchronous read; only the CPU device can do it. */
  dataSync(): TypedArray { return this.toFlat(); }

  /** The elements in C order; asynchronous so that the same code works for GPU arrays. */
  async data(): Promise<TypedArray> { return this.dataSync(); }

  /** Nested JS arrays (a number for a 0-d array). */
  toArray(): unknown {
    const flat = this.toFlat();
    let i = 0;
    const build = (d: number): unknown => {
      if (d === this.shape.length) return flat[i++];
      return Array.from({ length: this.shape[d] }, () => build(d + 1));
    };
    return build(0);
  }

  /** The single element of a size-1 array. */
  itemSync(): number {
    if (this.size !== 1) throw new Error(`item: expected an array of size 1, got shape ${shapeStr(this.shape)}`);
    return this.buffer[this.offset];
  }

  async item(): Promise<number> { return this.itemSync(); }

  // ---- views -------------------------------------------------------------------------------

  reshape(shape: readonly number[]): NDArray {
    const target = inferShape(shape, this.size, 'reshape');
    if (this.isContiguous) return new NDArray(this.buffer, target, contiguousStrides(target), this.offset);
    return new NDArray(this.toFlat(), target);
  }

  transpose(axes?: readonly number[]): NDArray {
    const order = axes ?? this.shape.map((_, i) => this.ndim - 1 - i);
    checkAxes(order, this.ndim, 'transpose');
    return new NDArray(this.buffer, order.map((a) => this.shape[a]), order.map((a) => this.strides[a]), this.offset);
  }

  broadcastTo(shape: readonly number[]): NDArray {
    const lead = shape.length - this.ndim;
    if (lead < 0) throw new Error(`broadcastTo: cannot broadcast ${shapeStr(this.shape)} to ${shapeStr(shape)}`);
    const strides = shape.map((n, d) => {
      if (d < lead) return 0;
      const m = this.shape[d - lead];
      if (m === n) return m === 1 ? 0 : this.strides[d - lead];
      if (m === 1) return 0;
      throw new Error(`broadcastTo: cannot broadcast ${shapeStr(this.shape)} to ${shapeStr(shape)}`);
    });
    return new NDArray(this.buffer, shape.slice(), strides, this.offset);
  }

  /** A strided sub-view: per axis `[start, stop, step]` after normalisation, or an index. */
  view(shape: readonly number[], strides: readonly number[], offset: number): NDArray {
    return new NDArray(this.buffer, shape, strides, offset);
  }
}

/** Resolve one `-1` in a target shape and check the element count. */
export function inferShape(shape: readonly number[], size: number, op: string): number[] {
  const s = shape.slice();
  const free = s.indexOf(-1);
  if (s.some((n, i) => !Number.isInteger(n) || (n < 0 && i !== free)) || s.lastIndexOf(-1) !== free) {
    throw new Error(`${op}: invalid shape ${shapeStr(shape)}`);
  }
  if (free >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== free));
    if (rest === 0 || size % rest !== 0) throw new Error(`${op}: cannot reshape size ${size} into ${shapeStr(shape)}`);
    s[free] = size / rest;
  }
  if (sizeOf(s) !== size) throw new Error(`${op}: cannot reshape size ${size} into ${shapeStr(shape)}`);
  return s;
}

export function checkAxes(axes: readonly number[], ndim: number, op: string): void {
  const sorted = [...axes].sort((a, b) => a - b);
  if (axes.length !== ndim || sorted.some((a, i) => a !== i)) {
    throw new Error(`${op}: axes ${shapeStr(axes)} is not a permutation of ${ndim} axes`);
  }
}

/** Normalise an axis (negative counts from the end) or throw naming the op. */
export function normAxis(axis: number, ndim: number, op: string): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= ndim) throw new Error(`${op}: axis ${axis} out of range for ${ndim}-d input`);
  return a;
}

/** The broadcast of several shapes, NumPy's rules; throws naming the op and every shape. */
export function broadcastShapes(shapes: readonly (readonly number[])[], op: string, names?: readonly string[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let d = 0; d < s.length; d++) {
      const o = rank - s.length + d;
      const n = s[d];
      if (out[o] === 1) out[o] = n;
      else if (n !== 1 && n !== out[o]) {
        const args = shapes.map((sh, i) => `${names?.[i] ?? `x${i}`} ${shapeStr(sh)}`).join(', ');
        throw new Error(`${op}: shapes do not broadcast: ${args}`);
      }
    }
  }
  return out;
}

export type { NumArray };
