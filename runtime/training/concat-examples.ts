// concatExamples: a list of examples stacked into batch arrays (Chainer's concat_examples).

import { NDArray, TYPED, shapeStr, sizeOf, type Device } from '../array/ndarray.js';
import { array, type NestedArray } from '../array/xp.js';
import { describe } from './dataset.js';

/** A batch of examples stacks into one NDArray, or one per field for tuple examples. */
export type Concatenated<T> = T extends readonly unknown[] ? { -readonly [K in keyof T]: NDArray } : NDArray;

/**
 * Stack a batch into arrays with a leading batch axis. Tuple examples (JS arrays such as
 * `[x, t]`) give one array per position; any other example gives one array.
 *
 * dtypes: an NDArray or typed array keeps its own; a nested JS array of numbers becomes
 * float32 (features); a plain JS number must be an integer and becomes int32 (a label).
 * Float scalar targets should come as a Float32Array or NDArray column, whose dtype travels.
 * The batch is stacked on the CPU and then sent to `device` (Chainer's `device` argument).
 *
 * ```ts
 * const [x, t] = concatExamples(it.next());   // x (100, 784) float32, t (100,) int32
 * const [xg, tg] = concatExamples(it.next(), 'webgpu');
 * ```
 */
export function concatExamples<T>(batch: readonly T[], device: Device = 'cpu'): Concatenated<T> {
  if (device !== 'cpu' && device !== 'webgpu') {
    throw new Error(`concatExamples: unknown device ${typeof device === 'string' ? `'${device}'` : String(device)}; expected 'cpu' or 'webgpu'`);
  }
  const stacked = stackExamples(batch);
  if (device === 'cpu') return stacked;
  return (Array.isArray(stacked) ? stacked.map((a: NDArray) => a.to(device)) : (stacked as NDArray).to(device)) as Concatenated<T>;
}

function stackExamples<T>(batch: readonly T[]): Concatenated<T> {
  if (!Array.isArray(batch)) throw new Error(`concatExamples: batch must be an array of examples, got ${describe(batch)}`);
  if (batch.length === 0) throw new Error('concatExamples: batch is empty; expected at least one example');
  const first: unknown = batch[0];
  if (!Array.isArray(first)) return stack(batch as readonly unknown[], null) as Concatenated<T>;
  const width = first.length;
  batch.forEach((ex, i) => {
    if (!Array.isArray(ex) || ex.length !== width) {
      const seen = Array.isArray(ex) ? `a tuple of ${ex.length}` : describe(ex);
      throw new Error(`concatExamples: example ${i} in batch is ${seen}, expected a tuple of ${width} like example 0`);
    }
  });
  return first.map((_, k) => stack(batch.map((ex) => (ex as unknown[])[k]), k)) as Concatenated<T>;
}

/** Where an item sits, for errors: 'example 3' or 'field 1 of example 3'. */
type Where = (i: number) => string;

/** One field (or whole examples, `field` null) across the batch as an NDArray (batch, ...). */
function stack(items: readonly unknown[], field: number | null): NDArray {
  const where: Where = (i) => (field === null ? `example ${i}` : `field ${field} of example ${i}`);
  if (items.every((v) => typeof v === 'number')) return stackLabels(items as number[], where);
  const arrays = items.map((v, i) => toArray(v, i, where));
  const { shape, dtype } = arrays[0];
  const size = sizeOf(shape);
  const out = new TYPED[dtype](arrays.length * size);
  arrays.forEach((a, i) => {
    if (a.dtype !== dtype || a.shape.length !== shape.length || a.shape.some((n, d) => n !== shape[d])) {
      throw new Error(`concatExamples: ${where(i)} is ${shapeStr(a.shape)} ${a.dtype}, expected ${shapeStr(shape)} ${dtype} like example 0`);
    }
    // rows of a TupleDataset column are contiguous views: copy them without a walk
    out.set(a.isContiguous ? a.buffer.subarray(a.offset, a.offset + size) : a.toFlat(), i * size);
  });
  return new NDArray(out, [arrays.length, ...shape]);
}

function stackLabels(labels: readonly number[], where: Where): NDArray {
  const bad = labels.findIndex((l) => !Number.isInteger(l) || l < -(2 ** 31) || l >= 2 ** 31);
  if (bad >= 0) {
    throw new Error(`concatExamples: ${where(bad)} is the JS number ${labels[bad]}; plain numbers are int32 labels, ` +
      'so give float targets as a Float32Array or NDArray column');
  }
  return new NDArray(Int32Array.from(labels), [labels.length]);
}

function toArray(v: unknown, i: number, where: Where): NDArray {
  if (v instanceof NDArray) return v;
  if (v instanceof Float32Array || v instanceof Float64Array || v instanceof Int32Array) return new NDArray(v, [v.length]);
  if (typeof v === 'number') throw new Error(`concatExamples: ${where(i)} is a number but other examples hold arrays there`);
  if (Array.isArray(v)) {
    try {
      return array(v as NestedArray, undefined, 'float32');
    } catch (e) {
      throw new Error(`concatExamples: ${where(i)} is not a valid nested array (${(e as Error).message})`);
    }
  }
  throw new Error(`concatExamples: ${where(i)} is ${describe(v)}; expected an NDArray, a typed array, a nested array or a number`);
}
