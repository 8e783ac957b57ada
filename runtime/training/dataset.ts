// The dataset contract that iterators read: a length and random access by index.

/**
 * A finite collection of examples read by index, as Chainer's datasets are. An example is
 * whatever `get` returns; for `concatExamples` it is a tuple such as `[x, t]` or one array.
 */
export interface Dataset<T> {
  readonly length: number;
  get(i: number): T;
}

/** A Dataset, or a plain JS array of examples (read as a Dataset without copying). */
export type DatasetLike<T> = Dataset<T> | readonly T[];

/** `data` as a Dataset; `op` names the caller in the error for anything else. */
export function asDataset<T>(data: DatasetLike<T>, op: string): Dataset<T> {
  if (Array.isArray(data)) {
    const items = data as readonly T[];
    return { get length() { return items.length; }, get: (i) => items[checkIndex(i, items.length, op)] };
  }
  const d = data as Dataset<T>;
  if (d === null || typeof d !== 'object' || typeof d.get !== 'function' || !Number.isInteger(d.length) || d.length < 0) {
    throw new Error(`${op}: dataset must be an array or an object with length and get(i), got ${describe(data)}`);
  }
  return d;
}

/** `i` if it is an integer in [0, length), else an error naming `op`. */
export function checkIndex(i: number, length: number, op: string): number {
  if (!Number.isInteger(i) || i < 0 || i >= length) {
    throw new Error(`${op}: index ${i} out of range for a dataset of length ${length}`);
  }
  return i;
}

export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'object';
  return typeof x;
}
