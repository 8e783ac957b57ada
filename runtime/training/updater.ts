// StandardUpdater: one training step per call: next batch, convert, loss, backward, update.

import type { Device, NDArray } from '../array/ndarray.js';
import type { Variable } from '../graph/variable.js';
import type { Optimizer } from '../optimizers/optimizer.js';
import type { Serializable, Serializer } from '../serializers/serializer.js';
import { concatExamples } from './concat-examples.js';
import type { SerialIterator } from './serial-iterator.js';

/** What the Trainer drives: a step, the position in training, and the pieces that hold state. */
export interface Updater extends Serializable {
  readonly iteration: number;
  readonly epoch: number;
  readonly epochDetail: number;
  /** `epochDetail` before the last update (null before the first). */
  readonly previousEpochDetail: number | null;
  readonly isNewEpoch: boolean;
  update(): void;
  getIterator(name: string): SerialIterator<unknown>;
  getOptimizer(name: string): Optimizer;
  getAllOptimizers(): Record<string, Optimizer>;
}

/** Turns a batch of examples into the loss function's arguments on `device`. */
export type Converter<T> = (batch: T[], device: Device) => NDArray | readonly NDArray[];

export interface StandardUpdaterOptions<T> {
  /** Default `concatExamples`. */
  converter?: Converter<T>;
  /** Where batches go (default 'cpu'). */
  device?: Device;
  /** The loss of a batch (default: the optimizer's target's `forward`, as Chainer calls the target). */
  lossFun?: (...args: NDArray[]) => Variable;
}

/**
 * Chainer's StandardUpdater: each `update()` takes the next batch from the `main` iterator,
 * converts it, and runs `optimizer.update(lossFun, ...arrays)` (clear gradients, loss,
 * backward, update).
 *
 * ```ts
 * const updater = new StandardUpdater(new SerialIterator(train, 100), optimizer, { device: 'webgpu' });
 * ```
 */
export class StandardUpdater<T> implements Updater {
  iteration = 0;
  readonly converter: Converter<T>;
  readonly device: Device;
  readonly lossFun: (...args: NDArray[]) => Variable;
  private readonly iterators: Record<string, SerialIterator<T>>;
  private readonly optimizers: Record<string, Optimizer>;

  constructor(iterator: SerialIterator<T> | Record<string, SerialIterator<T>>, optimizer: Optimizer | Record<string, Optimizer>, opts: StandardUpdaterOptions<T> = {}) {
    this.iterators = isNamed(iterator, 'next') ? iterator : { main: iterator as SerialIterator<T> };
    this.optimizers = isNamed(optimizer, 'update') ? optimizer : { main: optimizer as Optimizer };
    if (this.iterators.main === undefined) throw new Error('StandardUpdater: expected an iterator named main');
    const main = this.optimizers.main;
    if (main === undefined) throw new Error('StandardUpdater: expected an optimizer named main');
    if (main.target === null) throw new Error('StandardUpdater: the optimizer has no target; call optimizer.setup(model) first');
    this.converter = opts.converter ?? ((batch, device) => concatExamples(batch, device) as NDArray | NDArray[]);
    this.device = opts.device ?? 'cpu';
    const target = main.target as unknown as { forward?: (...args: NDArray[]) => Variable };
    if (opts.lossFun === undefined && typeof target.forward !== 'function') {
      throw new Error(`StandardUpdater: give lossFun, or a target with a forward method (got ${main.target.constructor.name})`);
    }
    this.lossFun = opts.lossFun ?? ((...args) => target.forward!(...args));
  }

  private get main(): SerialIterator<T> { return this.iterators.main; }
  get epoch(): number { return this.main.epoch; }
  get epochDetail(): number { return this.main.epochDetail; }
  get previousEpochDetail(): number | null { return this.main.previousEpochDetail; }
  get isNewEpoch(): boolean { return this.main.isNewEpoch; }

  getIterator(name: string): SerialIterator<T> {
    const it = this.iterators[name];
    if (it === undefined) throw new Error(`StandardUpdater: no iterator named '${name}' (have ${Object.keys(this.iterators).join(', ')})`);
    return it;
  }

  getOptimizer(name: string): Optimizer {
    const opt = this.optimizers[name];
    if (opt === undefined) throw new Error(`StandardUpdater: no optimizer named '${name}' (have ${Object.keys(this.optimizers).join(', ')})`);
    return opt;
  }

  getAllOptimizers(): Record<string, Optimizer> { return { ...this.optimizers }; }

  update(): void {
    const batch = this.main.next();
    const arrays = this.converter(batch, this.device);
    const args = Array.isArray(arrays) ? arrays as NDArray[] : [arrays as NDArray];
    const optimizer = this.optimizers.main;
    optimizer.update(this.lossFun, ...args);
    if (this.main.isNewEpoch) optimizer.newEpoch();  // Chainer's auto_new_epoch: the optimizer counts epochs too
    this.iteration += 1;
  }

  /** Chainer's keys: `iterator:main/...`, `optimizer:main/...`, `model:main/...`, `iteration`. */
  serialize(serializer: Serializer): void {
    for (const [name, it] of Object.entries(this.iterators)) it.serialize(serializer.child(`iterator:${name}`));
    for (const [name, opt] of Object.entries(this.optimizers)) {
      asSerializable(opt, 'optimizer').serialize(serializer.child(`optimizer:${name}`));
      asSerializable(opt.target, 'model').serialize(serializer.child(`model:${name}`));
    }
    serializer.number('iteration', this.iteration, (v) => { this.iteration = v; });
  }
}

function isNamed<V>(x: V | Record<string, V>, method: string): x is Record<string, V> {
  return typeof (x as Record<string, unknown>)[method] !== 'function';
}

function asSerializable(x: unknown, what: string): Serializable {
  const s = x as Partial<Serializable> | null;
  if (s === null || typeof s.serialize !== 'function') throw new Error(`StandardUpdater.serialize: the ${what} has no serialize method`);
  return s as Serializable;
}
