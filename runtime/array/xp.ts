// The array module: creation routines and the primitive array ops, dispatched to a device.

import { input, type Expr } from '../../compiler/expr.js';
import type { ReduceOp } from '../../compiler/js.js';
import { backendOf, deviceOf } from './backend.js';
import { libraryKernels } from './library-kernels.js';
import './cpu/backend.js';
import { NDArray, TYPED, broadcastShapes, bumpVersion, checkDtype, checkShape, dtypeOf, shapeStr, sizeOf, type DType, type Device, type TypedArray } from './ndarray.js';
import { random as globalRandom, type RandomState } from './random.js';

export type NestedArray = number | NestedArray[];

/** Integer typed arrays array() converts to int32 (Uint32Array only when every value fits). */
export type IntegerArray = Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Uint32Array;

/** Typed arrays other than kusari's three, converted when every value survives exactly. */
function asSupported(data: ArrayBufferView): TypedArray {
  if (data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array) return data;
  if (data instanceof Int8Array || data instanceof Uint8Array || data instanceof Uint8ClampedArray || data instanceof Int16Array || data instanceof Uint16Array) {
    return Int32Array.from(data);
  }
  if (data instanceof Uint32Array) {
    const big = data.findIndex((v) => v > 0x7fffffff);
    if (big < 0) return Int32Array.from(data);
    throw new Error(`array: Uint32Array value ${data[big]} at ${big} does not fit int32; convert it to a Float64Array first`);
  }
  const name = (data as object).constructor?.name ?? 'this view';
  throw new Error(`array: ${name} is not supported; use a Float32Array, Float64Array or Int32Array (or a plain array)`);
}

/**
 * An array from nested JS arrays or a typed array. `shape` is required for flat data and
 * inferred for nested data; `dtype` defaults to the typed array's, else float32.
 */
export function array(data: NestedArray | TypedArray | IntegerArray | readonly number[], shape?: readonly number[], dtype?: DType): NDArray {
  if (dtype !== undefined) checkDtype(dtype, 'array');
  if (shape !== undefined) checkShape(shape, 'array');
  if (ArrayBuffer.isView(data)) {
    const typed = asSupported(data);
    const d = dtype ?? dtypeOf(typed);
    const s = shape ?? [typed.length];
    if (sizeOf(s) !== typed.length) {
      throw new Error(`array: ${typed.length} elements do not fill shape ${shapeStr(s)}`);
    }
    const buf = d === dtypeOf(typed) ? typed : new TYPED[d](typed);
    return new NDArray(buf, s.slice());
  }
  const inferred: number[] = [];
  for (let level: unknown = data; Array.isArray(level); level = level[0]) inferred.push(level.length);
  const flat: number[] = [];
  const walk = (v: unknown, d: number): void => {
    if (d === inferred.length) {
      if (typeof v !== 'number') throw new Error(`array: data must contain only numbers, got ${Array.isArray(v) ? 'a nested array' : typeof v} at depth ${d}`);
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== inferred[d]) {
      throw new Error(`array: nested data is ragged: expected a list of ${inferred[d]} at depth ${d}, got ${Array.isArray(v) ? `a list of ${v.length}` : typeof v}`);
    }
    for (const e of v) walk(e, d + 1);
  };
  walk(data, 0);
  const s = shape ?? inferred;
  if (sizeOf(s) !== flat.length) throw new Error(`array: ${flat.length} elements do not fill shape ${shapeStr(s)}`);
  return new NDArray(new TYPED[dtype ?? 'float32'](flat), s.slice());
}

function filled(op: string, shape: readonly number[], value: number, dtype: DType, device: Device): NDArray {
  checkShape(shape, op);
  checkDtype(dtype, op);
  if (typeof value !== 'number') throw new Error(`${op}: value must be a number, got ${typeof value}`);
  checkDevice(device, op);
  return backendOf(device).full(shape, value, dtype);
}
export const full = (shape: readonly number[], value: number, dtype: DType = 'float32', device: Device = 'cpu'): NDArray => filled('full', shape, value, dtype, device);
export const zeros = (shape: readonly number[], dtype: DType = 'float32', device: Device = 'cpu'): NDArray => filled('zeros', shape, 0, dtype, device);
export const ones = (shape: readonly number[], dtype: DType = 'float32', device: Device = 'cpu'): NDArray => filled('ones', shape, 1, dtype, device);
export const zerosLike = (x: NDArray): NDArray => zeros(x.shape, x.dtype, x.device);
export const onesLike = (x: NDArray): NDArray => ones(x.shape, x.dtype, x.device);

export function arange(start: number, stop?: number, step = 1, dtype: DType = 'float32'): NDArray {
  const [a, b] = stop === undefined ? [0, start] : [start, stop];
  checkDtype(dtype, 'arange');
  for (const [name, v] of [['start', a], ['stop', b], ['step', step]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`arange: ${name} must be a finite number, got ${v}`);
  }
  if (step === 0) throw new Error('arange: step must not be 0');
  const n = Math.max(0, Math.ceil((b - a) / step));
  if (n > MAX_ELEMENTS) throw new Error(`arange: ${n} elements from ${a} to ${b} by ${step} is more than ${MAX_ELEMENTS}`);
  const out = new TYPED[dtype](n);
  for (let i = 0; i < n; i++) out[i] = a + i * step;
  return new NDArray(out, [n]);
}

export interface RandomOptions { dtype?: DType; rng?: RandomState; device?: Device }

/** The most elements one array may hold (a typed array's limit is 2^32 - 1 bytes or so). */
const MAX_ELEMENTS = 2 ** 31 - 1;

function checkDevice(device: unknown, op: string): asserts device is Device {
  if (device !== 'cpu' && device !== 'webgpu') {
    throw new Error(`${op}: unknown device ${typeof device === 'string' ? `'${device}'` : String(device)}; expected 'cpu' or 'webgpu'`);
  }
}

/** The options of a random creation routine, checked (an error names `op`). */
export function checkRandomOptions(op: string, opts: RandomOptions): void {
  if (opts.dtype !== undefined) checkDtype(opts.dtype, op);
  if (opts.device !== undefined) checkDevice(opts.device, op);
}

export function randomNormal(shape: readonly number[], mean = 0, std = 1, opts: RandomOptions = {}): NDArray {
  checkShape(shape, 'randomNormal');
  checkRandomOptions('randomNormal', opts);
  if (!Number.isFinite(mean) || !(std >= 0) || !Number.isFinite(std)) {
    throw new Error(`randomNormal: mean must be finite and std finite and >= 0, got mean ${mean}, std ${std}`);
  }
  const rng = opts.rng ?? globalRandom;
  const out = new TYPED[opts.dtype ?? 'float32'](sizeOf(shape));
  for (let i = 0; i < out.length; i++) out[i] = mean + std * rng.normal();
  return new NDArray(out, shape.slice()).to(opts.device ?? 'cpu');
}

// ---- the generic kernels every device has -----------------------------------------------

/** The float dtype shared by `xs`; mixing float32 and float64 is an error naming the op. */
export function resultDtype(xs: readonly NDArray[], op: string): DType {
  const floats = [...new Set(xs.map((x) => x.dtype).filter((d) => d !== 'int32'))];
  if (floats.length > 1) throw new Error(`${op}: inputs mix dtypes ${floats.join(' and ')}; cast one of them first`);
  return floats[0] ?? 'int32';
}

/**
 * Evaluate expression roots elementwise with broadcasting, on the inputs' device. `op` and
 * `names` (the inputs' argument names) go into the errors for shapes or devices that differ.
 */
export function elementwise(
  roots: readonly Expr[], inputs: readonly NDArray[], scalars: readonly number[] = [],
  opts: { dtype?: DType; outs?: readonly NDArray[]; op?: string; names?: readonly string[] } = {},
): NDArray[] {
  const op = opts.op ?? 'elementwise';
  const shape = opts.outs?.[0].shape ?? broadcastShapes(inputs.map((x) => x.shape), op, opts.names);
  const device = deviceOf([...inputs, ...(opts.outs ?? [])], op, opts.names);
  const results = backendOf(device).elementwise(roots, inputs, scalars, shape, opts.dtype ?? resultDtype(inputs, op), opts.outs);
  // writing into `outs` is an in-place update: graphs that retained them must notice
  if (opts.outs !== undefined) for (const o of opts.outs) bumpVersion(o);
  return results;
}

/** Reduce map(x) over `axes` (all when omitted), keeping reduced dims as size 1 when `keepdims`. */
export function reduce(op: ReduceOp, x: NDArray, axes?: readonly number[], keepdims = false, map: Expr = input(0)): NDArray {
  const ax = axes ?? x.shape.map((_, i) => i);
  const dtype = x.dtype === 'int32' && op === 'sum' ? 'float32' : x.dtype;
  const y = backendOf(x.device).reduce(op, map, [x], [], x.shape, ax, dtype);
  return keepdims ? y : y.reshape(x.shape.filter((_, d) => !ax.includes(d)));
}

const COPY = input(0);

// A built app creates assign's float32 copy kernels (concat writes each part with it) in the background (fusion/background.ts).
libraryKernels(() => [{ roots: [COPY], inputs: ['float32'], outputs: ['float32'] }]);

/** Write `src` into the view `dst` in place, broadcasting `src`. */
export function assign(dst: NDArray, src: NDArray): void {
  const device = deviceOf([dst, src], 'assign', ['dst', 'src']);
  backendOf(device).elementwise([COPY], [src], [], dst.shape, dst.dtype, [dst]);
  bumpVersion(dst);
}

/** Join arrays along `axis` (shapes already checked). */
export function concat(xs: readonly NDArray[], axis: number): NDArray {
  const shape = xs[0].shape.slice();
  shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
  const out = zeros(shape, resultDtype(xs, 'concat'), deviceOf(xs, 'concat'));
  let at = 0;
  for (const x of xs) {
    assign(sliceAxis(out, axis, at, at + x.shape[axis]), x);
    at += x.shape[axis];
  }
  return out;
}

/** The view x[..., start:stop, ...] along one axis. */
export function sliceAxis(x: NDArray, axis: number, start: number, stop: number): NDArray {
  const shape = x.shape.slice();
  shape[axis] = stop - start;
  return x.view(shape, x.strides, x.offset + start * x.strides[axis]);
}
