// Triggers: when an extension runs and when training stops (Chainer's training.triggers).

import type { Serializer } from '../serializers/serializer.js';
import { DictSummary, serializeJson } from './reporter.js';
import type { Trainer } from './trainer.js';

export type Unit = 'epoch' | 'iteration';

/** Decides, once per iteration, whether something fires. */
export interface Trigger {
  call(trainer: Trainer): boolean;
  serialize?(serializer: Serializer): void;
}

/** A Trigger, a `[period, unit]` pair (an IntervalTrigger), or a plain function. */
export type TriggerLike = Trigger | readonly [number, Unit] | ((trainer: Trainer) => boolean);

/** Chainer's get_trigger: `[1, 'epoch']` becomes an IntervalTrigger, a function is wrapped. */
export function getTrigger(trigger: TriggerLike): Trigger {
  if (typeof trigger === 'function') return { call: trigger };
  if (Array.isArray(trigger)) return new IntervalTrigger(trigger[0], trigger[1]);
  const t = trigger as Trigger;
  if (t === null || typeof t !== 'object' || typeof t.call !== 'function') {
    throw new Error(`getTrigger: expected a Trigger, a [period, 'epoch' | 'iteration'] pair or a function, got ${JSON.stringify(trigger)}`);
  }
  return t;
}

function checkUnit(op: string, unit: unknown): Unit {
  if (unit !== 'epoch' && unit !== 'iteration') throw new Error(`${op}: unit must be 'epoch' or 'iteration', got ${JSON.stringify(unit)}`);
  return unit;
}

/**
 * Fires every `period` epochs or iterations. It reads the position from the updater and keeps
 * no state of its own, so it behaves the same after a resume. An epoch period may be a
 * fraction (0.5: twice an epoch): it fires on the iteration that crosses each multiple.
 */
export class IntervalTrigger implements Trigger {
  readonly unit: Unit;

  constructor(readonly period: number, unit: Unit) {
    this.unit = checkUnit('IntervalTrigger', unit);
    if (!(period > 0) || !Number.isFinite(period) || (unit === 'iteration' && !Number.isInteger(period))) {
      throw new Error(`IntervalTrigger: period must be a positive ${unit === 'iteration' ? 'integer' : 'number'}, got ${period}`);
    }
  }

  call(trainer: Trainer): boolean {
    const u = trainer.updater;
    if (this.unit === 'iteration') return u.iteration > 0 && u.iteration % this.period === 0;
    const previous = u.previousEpochDetail;
    if (previous === null) return false;
    return Math.floor(previous / this.period) !== Math.floor(u.epochDetail / this.period);
  }

  /** What the progress bar counts towards when this is the stop trigger. */
  getTrainingLength(): [number, Unit] { return [this.period, this.unit]; }
}

/** Fires at each of the given epochs or iterations (Chainer's ManualScheduleTrigger). */
export class ManualScheduleTrigger implements Trigger {
  readonly points: readonly number[];
  readonly unit: Unit;

  constructor(points: number | readonly number[], unit: Unit) {
    this.unit = checkUnit('ManualScheduleTrigger', unit);
    this.points = typeof points === 'number' ? [points] : [...points];
    if (this.points.length === 0 || this.points.some((p) => !(p > 0) || !Number.isFinite(p))) {
      throw new Error(`ManualScheduleTrigger: points must be positive numbers, got ${JSON.stringify(points)}`);
    }
  }

  call(trainer: Trainer): boolean {
    const u = trainer.updater;
    if (this.unit === 'iteration') return this.points.includes(u.iteration);
    const previous = u.previousEpochDetail;
    if (previous === null) return false;
    return this.points.some((p) => previous < p && p <= u.epochDetail);
  }

  getTrainingLength(): [number, Unit] { return [Math.max(...this.points), this.unit]; }
}

/**
 * Fires when the mean of `key` over the last interval is the best seen so far; the base of
 * MaxValueTrigger and MinValueTrigger (Chainer's BestValueTrigger).
 */
export class BestValueTrigger implements Trigger {
  private readonly interval: Trigger;
  private best: number | null = null;
  private summary = new DictSummary();

  constructor(readonly key: string, private readonly compare: (best: number, value: number) => boolean, trigger: TriggerLike = [1, 'epoch']) {
    this.interval = getTrigger(trigger);
  }

  call(trainer: Trainer): boolean {
    const value = trainer.observation[this.key];
    if (value !== undefined) this.summary.add({ [this.key]: value });
    if (!this.interval.call(trainer)) return false;
    const mean = this.summary.computeMean()[this.key];
    this.summary = new DictSummary();
    if (mean === undefined) return false;  // nothing reported under the key this interval
    if (this.best === null || this.compare(this.best, mean)) {
      this.best = mean;
      return true;
    }
    return false;
  }

  serialize(serializer: Serializer): void {
    this.interval.serialize?.(serializer.child('interval_trigger'));
    this.summary.serialize(serializer.child('summary'));
    serializeJson(serializer, 'best_value', this.best, (v) => {
      if (v !== null && typeof v !== 'number') throw new Error(`${this.constructor.name}: the stored best value is not a number`);
      this.best = v;
    });
  }
}

/** Fires when `key` reaches a new maximum (for example `validation/main/accuracy`). */
export class MaxValueTrigger extends BestValueTrigger {
  constructor(key: string, trigger: TriggerLike = [1, 'epoch']) { super(key, (best, v) => v > best, trigger); }
}

/** Fires when `key` reaches a new minimum (for example `validation/main/loss`). */
export class MinValueTrigger extends BestValueTrigger {
  constructor(key: string, trigger: TriggerLike = [1, 'epoch']) { super(key, (best, v) => v < best, trigger); }
}

export interface EarlyStoppingOptions {
  /** When to check the monitored value (default every epoch). */
  checkTrigger?: TriggerLike;
  /** The observation key to watch (default `main/loss`). */
  monitor?: string;
  /** Checks without improvement before stopping (default 3). */
  patience?: number;
  /** 'min' or 'max'; 'auto' (default) is 'max' for keys containing 'accuracy', else 'min'. */
  mode?: 'min' | 'max' | 'auto';
  /** Stop here anyway (default 100 epochs). */
  maxTrigger?: readonly [number, Unit];
  /** Say why training stopped, on stderr. */
  verbose?: boolean;
}

/**
 * A stop trigger: stops when `monitor` has not improved for `patience` checks, or at
 * `maxTrigger` (Chainer's EarlyStoppingTrigger).
 *
 * ```ts
 * new Trainer(updater, new EarlyStoppingTrigger({ monitor: 'validation/main/loss', patience: 2, maxTrigger: [50, 'epoch'] }));
 * ```
 */
export class EarlyStoppingTrigger implements Trigger {
  readonly monitor: string;
  readonly patience: number;
  readonly mode: 'min' | 'max';
  private readonly check: Trigger;
  private readonly max: IntervalTrigger;
  private readonly verbose: boolean;
  private best: number | null = null;
  private count = 0;
  private summary = new DictSummary();

  constructor(opts: EarlyStoppingOptions = {}) {
    this.monitor = opts.monitor ?? 'main/loss';
    this.patience = opts.patience ?? 3;
    if (!Number.isInteger(this.patience) || this.patience < 1) throw new Error(`EarlyStoppingTrigger: patience must be a positive integer, got ${this.patience}`);
    const mode = opts.mode ?? 'auto';
    if (mode !== 'min' && mode !== 'max' && mode !== 'auto') throw new Error(`EarlyStoppingTrigger: mode must be 'min', 'max' or 'auto', got ${JSON.stringify(mode)}`);
    this.mode = mode === 'auto' ? (this.monitor.includes('accuracy') ? 'max' : 'min') : mode;
    this.check = getTrigger(opts.checkTrigger ?? [1, 'epoch']);
    const [period, unit] = opts.maxTrigger ?? [100, 'epoch'];
    this.max = new IntervalTrigger(period, unit);
    this.verbose = opts.verbose ?? false;
  }

  call(trainer: Trainer): boolean {
    if (this.max.call(trainer)) return true;
    const value = trainer.observation[this.monitor];
    if (value !== undefined) this.summary.add({ [this.monitor]: value });
    if (!this.check.call(trainer)) return false;
    const mean = this.summary.computeMean()[this.monitor];
    this.summary = new DictSummary();
    if (mean === undefined) return false;
    const better = this.best === null || (this.mode === 'min' ? mean < this.best : mean > this.best);
    if (better) {
      this.best = mean;
      this.count = 0;
      return false;
    }
    this.count += 1;
    if (this.count < this.patience) return false;
    if (this.verbose) console.error(`EarlyStoppingTrigger: ${this.monitor} has not improved on ${this.best} for ${this.patience} checks; stopping`);
    return true;
  }

  getTrainingLength(): [number, Unit] { return this.max.getTrainingLength(); }

  serialize(serializer: Serializer): void {
    this.check.serialize?.(serializer.child('interval_trigger'));
    this.summary.serialize(serializer.child('summary'));
    serializer.number('count', this.count, (v) => { this.count = v; });
    serializeJson(serializer, 'best', this.best, (v) => {
      if (v !== null && typeof v !== 'number') throw new Error('EarlyStoppingTrigger: the stored best value is not a number');
      this.best = v;
    });
  }
}
