// Evaluator: runs a model over a test set in test mode without a graph and reports the means.

import type { Device, NDArray } from '../../array/ndarray.js';
import { noBackprop, testMode } from '../../graph/config.js';
import type { Link } from '../../links/link.js';
import { concatExamples } from '../concat-examples.js';
import { PRIORITY_WRITER, type Extension } from '../extension.js';
import { DictSummary, Reporter, readObservation, type Observation, type RawObservation } from '../reporter.js';
import type { SerialIterator } from '../serial-iterator.js';
import type { Trainer } from '../trainer.js';
import type { TriggerLike } from '../triggers.js';
import type { Converter } from '../updater.js';

export interface EvaluatorOptions<T> {
  /** Default `concatExamples`, as the updater's. */
  converter?: Converter<T>;
  device?: Device;
  /** Called on each batch's arrays (default: the target's `forward`); it should `report()` what to average. */
  evalFunc?: (...args: NDArray[]) => unknown;
  /** Prefix of the reported keys (default 'validation', giving `validation/main/loss`). */
  name?: string;
}

/**
 * Chainer's Evaluator: at each trigger (default every epoch) it resets `iterator` (which
 * must not repeat), runs `evalFunc` on every batch with `config.train` false and no graph,
 * and adds the mean of what was reported, prefixed with `validation/`, to the Trainer's
 * observation. As in Chainer, the mean is over batches, so a short last batch counts as much as a full one.
 *
 * ```ts
 * trainer.extend(new Evaluator(new SerialIterator(test, 100, { repeat: false }), classifier));
 * ```
 */
export class Evaluator<T> implements Extension {
  readonly trigger: TriggerLike = [1, 'epoch'];
  readonly priority = PRIORITY_WRITER;
  readonly name: string;
  private readonly reporter = new Reporter();
  private readonly converter: Converter<T>;
  private readonly device: Device;
  private readonly evalFunc: (...args: NDArray[]) => unknown;

  constructor(readonly iterator: SerialIterator<T>, readonly target: Link, opts: EvaluatorOptions<T> = {}) {
    if (iterator.repeat) throw new Error('Evaluator: the iterator repeats and would never end; create it with { repeat: false }');
    this.name = opts.name ?? 'validation';
    this.reporter.addObserver(`${this.name}/main`, target);
    this.reporter.addObservers(`${this.name}/main`, [...target.namedLinks()].filter(([path]) => path !== '/'));
    this.device = opts.device ?? 'cpu';
    const forward = (target as unknown as { forward?: (...args: NDArray[]) => unknown }).forward;
    if (opts.evalFunc === undefined && typeof forward !== 'function') {
      throw new Error(`Evaluator: give evalFunc, or a target with a forward method (got ${target.constructor.name})`);
    }
    this.evalFunc = opts.evalFunc ?? ((...args) => forward!.apply(target, args));
    this.converter = opts.converter ?? defaultConverter;
  }

  /** The mean of every reported value over the dataset, with prefixed keys. */
  async evaluate(): Promise<Observation> {
    const summary = new DictSummary();
    this.iterator.reset();
    for (const batch of this.iterator) {
      const raw: RawObservation = {};
      // sync inside: the test-mode and no-graph config is restored before anything is awaited
      this.reporter.scope(raw, () => testMode(() => noBackprop(() => {
        const arrays = this.converter(batch, this.device);
        this.evalFunc(...(Array.isArray(arrays) ? arrays as NDArray[] : [arrays as NDArray]));
      })));
      summary.add(await readObservation(raw));
    }
    return summary.computeMean();
  }

  async call(trainer: Trainer): Promise<void> {
    Object.assign(trainer.observation, await this.evaluate());
  }
}

const defaultConverter = (batch: unknown[], device: Device) => concatExamples(batch, device) as NDArray | NDArray[];
