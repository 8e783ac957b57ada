// NDArray: a strided view (shape, strides, offset, dtype) over one device's storage.

import type { NumArray } from '../../compiler/js.js';
import { input } from '../../compiler/expr.js';
import { backendOf } from './backend.js';

export type DType = 'float32' | 'float64' | 'int32';
export type Device = 'cpu' | 'webgpu';
export type TypedArray = Float32Array | Float64Array | Int32Array;

/** Memory on an accelerator; each backend has its own implementation. */
export interface DeviceStorage {
  readonly device: Exclude<Device, 'cpu'>;
  readonly dtype: DType;
  /** capacity in elements */
  readonly length: number;
}

/** A CPU array's elements, or a handle to device memory. */
export type Storage = TypedArray | DeviceStorage;

export const TYPED: { [D in DType]: { new (n: number): TypedArray; new (a: ArrayLike<number>): TypedArray } } = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
};

const COPY = input(0);

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

/** Whether two shapes (or any lists of integers, strides too) are equal; a loop, as launches ask it per operand. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
export const shapeStr = (shape: readonly number[]): string => `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;

export function dtypeOf(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  // never store another typed array under a dtype it does not have
  throw new Error(`NDArray: ${describeTyped(a)} is not a supported storage; use a Float32Array, Float64Array or Int32Array`);
}

const describeTyped = (a: unknown): string => (a as object)?.constructor?.name ?? typeof a;

const DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];

/** Throw naming the op when `dtype` is not one kusari has (say 'float16'). */
export function checkDtype(dtype: unknown, op: string): asserts dtype is DType {
  if (!DTYPES.includes(dtype as DType)) {
    throw new Error(`${op}: unknown dtype ${typeof dtype === 'string' ? `'${dtype}'` : String(dtype)}; expected 'float32', 'float64' or 'int32'`);
  }
}

/** A readable form of a shape argument, whatever the caller passed. */
export function showShape(shape: unknown): string {
  if (Array.isArray(shape) && shape.every((n) => typeof n === 'number')) return shapeStr(shape);
  try { return JSON.stringify(shape) ?? String(shape); } catch { return String(shape); }
}

/** Throw naming the op and argument unless `shape` is a list of non-negative integers. */
export function checkShape(shape: unknown, op: string, arg = 'shape'): asserts shape is readonly number[] {
  if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new Error(`${op}: ${arg} must be a list of non-negative integers, got ${showShape(shape)}`);
  }
}

// Versions live beside the storage, not in it (a typed array takes no fields), and only for
// storages ever written in place: optimizer state and parameters. A FunctionNode compares
// them to refuse backward through data changed after its forward.
const versions = new WeakMap<Storage, number>();

/** Record an in-place write into `x`'s storage (every view of it sees the new version). */
export function bumpVersion(x: NDArray): void {
  versions.set(x.storage, (versions.get(x.storage) ?? 0) + 1);
}

/**
 * An n-dimensional array on a device. Arrays are treated as values: ops return new arrays
 * or views, and only optimizers write into parameters in place. Views (reshape of
 * contiguous data, transpose, broadcastTo, basic slicing) share storage and copy nothing.
 */
export class NDArray {
  readonly size: number;

  constructor(
    readonly storage: Storage,
    readonly shape: readonly number[],
    readonly strides: readonly number[] = contiguousStrides(shape),
    readonly offset = 0,
  ) {
    this.size = sizeOf(shape);
    checkExtent(storage, shape, strides, offset);
  }

  get dtype(): DType { return ArrayBuffer.isView(this.storage) ? dtypeOf(this.storage) : this.storage.dtype; }
  /** How many in-place writes its storage has had (shared by every view of it; PyTorch's _version). */
  get version(): number { return versions.get(this.storage) ?? 0; }
  get ndim(): number { return this.shape.length; }
  get device(): Device { return ArrayBuffer.isView(this.storage) ? 'cpu' : this.storage.device; }

  /** The typed array behind a CPU array; GPU arrays are read with `await x.data()`. */
  get buffer(): TypedArray {
    if (!ArrayBuffer.isView(this.storage)) {
      throw new Error(`${this} lives on ${this.device}: read it with await x.data(), or move it with toCpu()`);
    }
    return this.storage;
  }

  get isContiguous(): boolean {
    let acc = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.strides[d] !== acc) return false;
      acc *= this.shape[d];
    }
    return true;
  }

  toString(): string {
    return `NDArray(${shapeStr(this.shape)}, ${this.dtype}${this.device === 'cpu' ? '' : `, ${this.device}`})`;
  }

  /** The elements in C order as a fresh typed array (CPU arrays only: it is synchronous). */
  toFlat(): TypedArray {
    const buffer = this.buffer;
    const out = new TYPED[this.dtype](this.size);
    if (this.isContiguous) {
      out.set(buffer.subarray(this.offset, this.offset + this.size));
      return out;
    }
    let i = 0;
    const walk = (d: number, p: number) => {
      if (d === this.shape.length) { out[i++] = buffer[p]; return; }
      for (let j = 0; j < this.shape[d]; j++) walk(d + 1, p + j * this.strides[d]);
    };
    walk(0, this.offset);
    return out;
  }

  /** Synchronous read; only the CPU device can do it. */
  dataSync(): TypedArray { return this.toFlat(); }

  /** The elements in C order; asynchronous so that the same code works on every device. */
  data(): Promise<TypedArray> { return backendOf(this.device).toHost(this); }

  /** Nested JS arrays (a number for a 0-d array); CPU arrays only. */
  toArray(): unknown { return nest(this.toFlat(), this.shape); }

  /** Nested JS arrays on any device. */
  async array(): Promise<unknown> { return nest(await this.data(), this.shape); }

  /** The single element of a size-1 array (CPU arrays only). */
  itemSync(): number {
    if (this.size !== 1) throw new Error(`item: expected an array of size 1, got shape ${shapeStr(this.shape)}`);
    return this.buffer[this.offset];
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: expected an array of size 1, got shape ${shapeStr(this.shape)}`);
    return (await this.data())[0];
  }

  /** This array on the GPU (the same array if it is there already). */
  toGpu(): NDArray { return this.to('webgpu'); }

  /** This array on the CPU: asynchronous, like every read from a GPU. */
  async toCpu(): Promise<NDArray> {
    return this.device === 'cpu' ? this : new NDArray(await this.data(), this.shape.slice());
  }

  /** A copy on `device`. Uploads are queued, so this is synchronous; downloads use toCpu(). */
  to(device: Device): NDArray {
    if (device === this.device) return this;
    if (this.device !== 'cpu') throw new Error(`${this}: copying from ${this.device} is asynchronous; use await x.toCpu()`);
    return backendOf(device).fromHost(this.toFlat(), this.shape);
  }

  // ---- views -------------------------------------------------------------------------------

  reshape(shape: readonly number[]): NDArray {
    const target = inferShape(shape, this.size, 'reshape');
    const src = this.isContiguous ? this : contiguous(this);
    return new NDArray(src.storage, target, contiguousStrides(target), src.offset);
  }

  transpose(axes?: readonly number[]): NDArray {
    const order = axes ?? this.shape.map((_, i) => this.ndim - 1 - i);
    checkAxes(order, this.ndim, 'transpose');
    return new NDArray(this.storage, order.map((a) => this.shape[a]), order.map((a) => this.strides[a]), this.offset);
  }

  broadcastTo(shape: readonly number[]): NDArray {
    checkShape(shape, 'broadcastTo');
    const lead = shape.length - this.ndim;
    if (lead < 0) throw new Error(`broadcastTo: cannot broadcast ${shapeStr(this.shape)} to ${shapeStr(shape)}`);
    const strides = shape.map((n, d) => {
      if (d < lead) return 0;
      const m = this.shape[d - lead];
      if (m === n) return m === 1 ? 0 : this.strides[d - lead];
      if (m === 1) return 0;
      throw new Error(`broadcastTo: cannot broadcast ${shapeStr(this.shape)} to ${shapeStr(shape)}`);
    });
    return new NDArray(this.storage, shape.slice(), strides, this.offset);
  }

  /** A strided sub-view: per axis `[start, stop, step]` after normalisation, or an index. */
  view(shape: readonly number[], strides: readonly number[], offset: number): NDArray {
    // the constructor refuses a view that reaches outside the storage
    return new NDArray(this.storage, shape, strides, offset);
  }
}

/**
 * A view must stay inside its storage: otherwise a bad shape reads garbage (or, on a GPU,
 * whatever the buffer pool left there) instead of failing. Cheap: one pass over the dims.
 */
function checkExtent(storage: Storage, shape: readonly number[], strides: readonly number[], offset: number): void {
  if (ArrayBuffer.isView(storage)) dtypeOf(storage);
  if (shape.length !== strides.length) {
    throw new Error(`NDArray: shape ${showShape(shape)} and strides ${showShape(strides)} differ in length`);
  }
  let lo = offset, hi = offset, empty = false;
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d], s = strides[d];
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`NDArray: shape must be a list of non-negative integers, got ${showShape(shape)}`);
    if (!Number.isSafeInteger(s)) throw new Error(`NDArray: strides must be integers, got ${showShape(strides)}`);
    if (n === 0) empty = true;
    else if (s > 0) hi += (n - 1) * s;
    else lo += (n - 1) * s;
  }
  if (empty) return;
  if (!Number.isSafeInteger(offset) || lo < 0 || hi >= storage.length) {
    throw new Error(`NDArray: a view of shape ${shapeStr(shape)} (strides ${shapeStr(strides)}, offset ${offset}) reaches elements [${lo}, ${hi}] outside the ${storage.length} elements of its storage`);
  }
}

function nest(flat: TypedArray, shape: readonly number[]): unknown {
  let i = 0;
  const build = (d: number): unknown => (d === shape.length ? flat[i++] : Array.from({ length: shape[d] }, () => build(d + 1)));
  return build(0);
}

/** A contiguous copy of `x` on its own device. */
export function contiguous(x: NDArray): NDArray {
  return backendOf(x.device).elementwise([COPY], [x], [], x.shape, x.dtype)[0];
}

/** Resolve one `-1` in a target shape and check the element count. */
export function inferShape(shape: readonly number[], size: number, op: string): number[] {
  if (!Array.isArray(shape)) throw new Error(`${op}: shape must be a list of integers, got ${showShape(shape)}`);
  const s = shape.slice();
  const free = s.indexOf(-1);
  if (s.some((n, i) => !Number.isSafeInteger(n) || (n < 0 && i !== free)) || s.lastIndexOf(-1) !== free) {
    throw new Error(`${op}: invalid shape ${showShape(shape)}: expected non-negative integers and at most one -1`);
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
  let rank = 0;
  for (const s of shapes) if (s.length > rank) rank = s.length;
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
