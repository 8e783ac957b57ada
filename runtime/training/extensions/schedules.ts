// Learning-rate schedules: ExponentialShift and LinearShift change an optimizer attribute as training runs.

import type { Optimizer } from '../../optimizers/optimizer.js';
import type { Serializer } from '../../serializers/serializer.js';
import { PRIORITY_EDITOR, type Extension } from '../extension.js';
import type { Trainer } from '../trainer.js';

/** The optimizer's numeric attribute `attr` ('lr' for SGD, 'alpha' for Adam), checked. */
function attribute(op: string, optimizer: Optimizer, attr: string): number {
  const v = (optimizer as unknown as Record<string, unknown>)[attr];
  if (typeof v !== 'number') throw new Error(`${op}: the optimizer (${optimizer.constructor.name}) has no numeric attribute '${attr}'`);
  return v;
}

function setAttribute(optimizer: Optimizer, attr: string, value: number): void {
  (optimizer as unknown as Record<string, number>)[attr] = value;
}

/** Base of the two shifts: the optimizer they act on and how many times they have been called. */
abstract class Shift implements Extension {
  readonly priority = PRIORITY_EDITOR;
  /** Calls so far (Chainer's `_t`). */
  protected t = 0;
  protected optimizer: Optimizer | null;

  constructor(readonly attr: string, optimizer?: Optimizer) {
    this.optimizer = optimizer ?? null;
  }

  protected target(trainer: Trainer): Optimizer {
    this.optimizer ??= trainer.updater.getOptimizer('main');
    return this.optimizer;
  }

  /** The attribute's value after `t` calls. */
  protected abstract valueAt(t: number, trainer: Trainer): number;

  initialize(trainer: Trainer): void {
    attribute(this.constructor.name, this.target(trainer), this.attr);  // a misspelt attribute fails here, not silently
    setAttribute(this.target(trainer), this.attr, this.valueAt(this.t, trainer));
  }

  call(trainer: Trainer): void {
    this.t += 1;
    setAttribute(this.target(trainer), this.attr, this.valueAt(this.t, trainer));
  }

  serialize(serializer: Serializer): void {
    serializer.number('_t', this.t, (v) => { this.t = v; });
  }
}

/**
 * Multiplies `attr` by `rate` each time it is called (Chainer's ExponentialShift); `target`
 * bounds it. The value is init * rate^t, recomputed from the call count, so a resumed run
 * gets the same rate as an uninterrupted one.
 *
 * ```ts
 * trainer.extend(new ExponentialShift('lr', 0.5), { trigger: [10, 'epoch'] });   // halve every 10 epochs
 * ```
 */
export class ExponentialShift extends Shift {
  private init: number | null;
  private readonly bound: number | null;

  constructor(attr: string, readonly rate: number, opts: { init?: number; target?: number; optimizer?: Optimizer } = {}) {
    super(attr, opts.optimizer);
    if (!(rate > 0) || !Number.isFinite(rate)) throw new Error(`ExponentialShift: rate must be a positive number, got ${rate}`);
    this.init = opts.init ?? null;
    this.bound = opts.target ?? null;
  }

  protected valueAt(t: number, trainer: Trainer): number {
    this.init ??= attribute('ExponentialShift', this.target(trainer), this.attr);
    const v = this.init * this.rate ** t;
    if (this.bound === null) return v;
    // the bound is reached from either side: a rate above 1 grows towards it, below 1 shrinks
    return this.rate > 1 ? Math.min(v, this.bound) : Math.max(v, this.bound);
  }

  override serialize(serializer: Serializer): void {
    super.serialize(serializer);
    // the initial value is saved too: after a resume the optimizer holds the shifted value, not the first one
    serializer.number('_init', this.init ?? Number.NaN, (v) => { this.init = Number.isNaN(v) ? null : v; });
  }
}

/**
 * Moves `attr` linearly from `valueRange[0]` to `valueRange[1]` while the call count goes
 * from `timeRange[0]` to `timeRange[1]`, holding it outside (Chainer's LinearShift).
 *
 * ```ts
 * trainer.extend(new LinearShift('alpha', [1e-3, 1e-4], [0, 1800]));   // called every iteration
 * ```
 */
export class LinearShift extends Shift {
  constructor(attr: string, readonly valueRange: readonly [number, number], readonly timeRange: readonly [number, number], optimizer?: Optimizer) {
    super(attr, optimizer);
    if (!(timeRange[1] > timeRange[0])) throw new Error(`LinearShift: timeRange must be increasing, got [${timeRange.join(', ')}]`);
  }

  protected valueAt(t: number): number {
    const [t0, t1] = this.timeRange, [v0, v1] = this.valueRange;
    if (t <= t0) return v0;
    if (t >= t1) return v1;
    return v0 + ((v1 - v0) * (t - t0)) / (t1 - t0);
  }
}
