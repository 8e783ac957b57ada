// SerialIterator: minibatches of a dataset in order or shuffled, counting epochs (Chainer's).

import { RandomState, random as globalRandom } from '../array/random.js';
import { NDArray } from '../array/ndarray.js';
import { BOOLEAN, checkOptions } from '../ops/options.js';
import type { Serializer } from '../serializers/serializer.js';
import { asDataset, type Dataset, type DatasetLike } from './dataset.js';

export interface SerialIteratorOptions {
  /** Cycle through the dataset forever (true, for training) or stop after one pass. */
  repeat?: boolean;
  /** Visit examples in a new random order each epoch (default true when repeating). */
  shuffle?: boolean;
  /** Where the permutations come from (default: the global stream that `seed()` resets). */
  rng?: RandomState;
}

/**
 * Hands out batches of `batchSize` examples. With `repeat`, a batch that crosses the end
 * of an epoch is completed from the start of the next (so every batch is full and every
 * example is seen once per epoch); without it, the last batch is shorter and the iterator
 * then stops until `reset()`.
 *
 * ```ts
 * const it = new SerialIterator(train, 100);
 * while (it.epoch < 20) {
 *   const [x, t] = concatExamples(it.next());
 *   ...
 *   if (it.isNewEpoch) console.log(`epoch ${it.epoch} done`);
 * }
 * for (const batch of new SerialIterator(test, 100, { repeat: false })) { ... }
 * ```
 */
export class SerialIterator<T> implements Iterable<T[]> {
  readonly dataset: Dataset<T>;
  readonly repeat: boolean;
  readonly shuffle: boolean;
  /** Completed passes over the dataset. */
  epoch = 0;
  /** Whether the last `next()` finished an epoch. */
  isNewEpoch = false;
  /** Index, within the current epoch's order, of the next example to hand out. */
  currentPosition = 0;
  private previousDetail: number | null = null;
  private order: Int32Array | null;
  private readonly rng: RandomState;

  constructor(dataset: DatasetLike<T>, readonly batchSize: number, opts: SerialIteratorOptions = {}) {
    this.dataset = asDataset(dataset, 'SerialIterator');
    if (!Number.isInteger(batchSize) || batchSize <= 0) {
      throw new Error(`SerialIterator: batchSize must be a positive integer, got ${batchSize}`);
    }
    checkOptions('SerialIterator', opts, { repeat: BOOLEAN, shuffle: BOOLEAN, rng: { test: (v) => v instanceof RandomState, expected: 'a RandomState' } });
    if (this.dataset.length === 0) throw new Error('SerialIterator: dataset is empty; expected at least one example');
    this.repeat = opts.repeat ?? true;
    this.shuffle = opts.shuffle ?? this.repeat;
    this.rng = opts.rng ?? globalRandom;
    this.order = this.newOrder();
  }

  /** Epochs as a fraction: 2.5 is halfway through the third pass. */
  get epochDetail(): number { return this.epoch + this.currentPosition / this.dataset.length; }

  /** `epochDetail` before the last `next()` (null before the first). */
  get previousEpochDetail(): number | null { return this.previousDetail; }

  /** False once a non-repeating iterator has made its one pass. */
  get hasNext(): boolean { return this.repeat || this.epoch === 0; }

  /** The next batch of examples. */
  next(): T[] {
    if (!this.hasNext) {
      throw new Error('SerialIterator.next: the iterator made its one pass (repeat is false); call reset() to start again');
    }
    this.previousDetail = this.epochDetail;
    const n = this.dataset.length;
    const batch: T[] = [];
    this.isNewEpoch = false;
    while (batch.length < this.batchSize) {
      const stop = Math.min(n, this.currentPosition + this.batchSize - batch.length);
      // a loop, not push(...): a spread of a 150,000-example batch overflows the stack
      this.take(this.currentPosition, stop, batch);
      this.currentPosition = stop;
      if (stop < n) break;
      // an epoch ends here; a repeating iterator completes the batch from the next one
      this.epoch += 1;
      this.isNewEpoch = true;
      this.currentPosition = 0;
      if (!this.repeat) break;
      this.order = this.newOrder();
    }
    return batch;
  }

  /** Batches until a non-repeating iterator is done (forever when repeating: break out). */
  *[Symbol.iterator](): Generator<T[]> {
    while (this.hasNext) yield this.next();
  }

  /** Back to the start of epoch 0, with a fresh order when shuffling. */
  reset(): void {
    this.epoch = 0;
    this.isNewEpoch = false;
    this.currentPosition = 0;
    this.previousDetail = null;
    this.order = this.newOrder();
  }

  /**
   * The position in training under Chainer's keys (`current_position`, `epoch`,
   * `is_new_epoch`, `previous_epoch_detail` with -1 for none, `order` when shuffling), and
   * `rng/state` when the iterator draws from its own RandomState rather than the global one
   * (which the Trainer saves).
   */
  serialize(serializer: Serializer): void {
    const n = this.dataset.length;
    serializer.number('current_position', this.currentPosition, (v) => {
      if (!Number.isInteger(v) || v < 0 || v >= n) throw new Error(`SerialIterator: stored current_position ${v} is outside this dataset of ${n}`);
      this.currentPosition = v;
    });
    serializer.number('epoch', this.epoch, (v) => { this.epoch = v; });
    serializer.number('is_new_epoch', Number(this.isNewEpoch), (v) => { this.isNewEpoch = v !== 0; });
    serializer.number('previous_epoch_detail', this.previousDetail ?? -1, (v) => { this.previousDetail = v < 0 ? null : v; });
    if (this.order !== null) {
      serializer.array('order', new NDArray(this.order, [n]), (loaded) => { this.order = Int32Array.from(loaded.toFlat()); });
    }
    if (this.rng !== globalRandom) this.rng.serialize(serializer.child('rng'));
  }

  private newOrder(): Int32Array | null {
    return this.shuffle ? this.rng.permutation(this.dataset.length) : null;
  }

  private take(from: number, to: number, out: T[]): void {
    for (let k = from; k < to; k++) out.push(this.dataset.get(this.order === null ? k : this.order[k]));
  }
}
