// SubDataset and the splits built on it: a window of another dataset, optionally reordered.

import { random as globalRandom, type RandomState } from '../array/random.js';
import { asDataset, checkIndex, type Dataset, type DatasetLike } from './dataset.js';

/**
 * Examples `start..finish-1` of `dataset`, read through `order` when given (example `i` is
 * then `dataset.get(order[start + i])`). Nothing is copied.
 */
export class SubDataset<T> implements Dataset<T> {
  readonly length: number;
  private readonly base: Dataset<T>;

  constructor(dataset: DatasetLike<T>, readonly start: number, readonly finish: number, private readonly order?: ArrayLike<number>) {
    this.base = asDataset(dataset, 'SubDataset');
    const n = this.base.length;
    if (!Number.isInteger(start) || !Number.isInteger(finish) || start < 0 || finish < start || finish > n) {
      throw new Error(`SubDataset: expected 0 <= start <= finish <= ${n} (the dataset's length), got start ${start}, finish ${finish}`);
    }
    if (order !== undefined && order.length !== n) {
      throw new Error(`SubDataset: order has length ${order.length}, expected the dataset's length ${n}`);
    }
    this.length = finish - start;
  }

  get(i: number): T {
    const j = this.start + checkIndex(i, this.length, 'SubDataset.get');
    return this.base.get(this.order === undefined ? j : this.order[j]);
  }
}

/** `[dataset[0:splitAt], dataset[splitAt:]]`, through `order` when given (Chainer's split_dataset). */
export function splitDataset<T>(dataset: DatasetLike<T>, splitAt: number, order?: ArrayLike<number>): [SubDataset<T>, SubDataset<T>] {
  const d = asDataset(dataset, 'splitDataset');
  if (!Number.isInteger(splitAt) || splitAt < 0 || splitAt > d.length) {
    throw new Error(`splitDataset: splitAt must be an integer in [0, ${d.length}], got ${splitAt}`);
  }
  return [new SubDataset(d, 0, splitAt, order), new SubDataset(d, splitAt, d.length, order)];
}

/**
 * Two disjoint random parts, of `firstSize` and of the rest (Chainer's split_dataset_random).
 * The permutation comes from `rng` (default: the global stream that `seed()` resets).
 *
 * ```ts
 * const [train, test] = splitDatasetRandom(all, 8000, new RandomState(0));
 * ```
 */
export function splitDatasetRandom<T>(dataset: DatasetLike<T>, firstSize: number, rng: RandomState = globalRandom): [SubDataset<T>, SubDataset<T>] {
  const d = asDataset(dataset, 'splitDatasetRandom');
  if (!Number.isInteger(firstSize) || firstSize < 0 || firstSize > d.length) {
    throw new Error(`splitDatasetRandom: firstSize must be an integer in [0, ${d.length}], got ${firstSize}`);
  }
  return splitDataset(d, firstSize, rng.permutation(d.length));
}
