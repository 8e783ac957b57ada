// LogReport: the mean of every observed value per interval, kept as a list and written as JSON.

import { join } from 'node:path';
import { writeFileAtomic } from '../../serializers/atomic-write.js';
import type { Serializer } from '../../serializers/serializer.js';
import type { Extension } from '../extension.js';
import { DictSummary, serializeJson, type Observation } from '../reporter.js';
import type { Trainer } from '../trainer.js';
import { getTrigger, type Trigger, type TriggerLike } from '../triggers.js';

export interface LogReportOptions {
  /** Observation keys to log (default: every key). */
  keys?: readonly string[];
  /** How often an entry is made (default every epoch). */
  trigger?: TriggerLike;
  /** File name inside the Trainer's `out` folder (default 'log', as Chainer's); null writes no file. */
  filename?: string | null;
  /** Edits each entry before it is stored. */
  postprocess?: (entry: Observation) => void;
}

/**
 * Chainer's LogReport. Called every iteration, it accumulates the observation; when its
 * own trigger fires it appends the means, with `epoch`, `iteration` and `elapsed_time`,
 * to `log` and rewrites `out/log` as a JSON list (atomically, so a crash leaves a readable file).
 *
 * ```ts
 * trainer.extend(new LogReport());   // result/log: [{ "main/loss": 0.31, "epoch": 1, ... }, ...]
 * ```
 */
export class LogReport implements Extension {
  readonly name = 'LogReport';
  readonly trigger: TriggerLike = [1, 'iteration'];
  private readonly interval: Trigger;
  private summary = new DictSummary();
  private entries: Observation[] = [];

  constructor(private readonly opts: LogReportOptions = {}) {
    this.interval = getTrigger(opts.trigger ?? [1, 'epoch']);
  }

  /** The entries so far. */
  get log(): readonly Observation[] { return this.entries; }

  async call(trainer: Trainer): Promise<void> {
    const keys = this.opts.keys;
    const obs = keys === undefined ? trainer.observation : Object.fromEntries(Object.entries(trainer.observation).filter(([k]) => keys.includes(k)));
    this.summary.add(obs);
    if (!this.interval.call(trainer)) return;
    const entry: Observation = {
      ...this.summary.computeMean(),
      epoch: trainer.updater.epoch,
      iteration: trainer.updater.iteration,
      elapsed_time: trainer.elapsedTime,
    };
    this.opts.postprocess?.(entry);
    this.entries.push(entry);
    this.summary = new DictSummary();
    const filename = this.opts.filename === undefined ? 'log' : this.opts.filename;
    if (filename === null) return;
    const text = new TextEncoder().encode(`${JSON.stringify(this.entries, null, 4)}\n`);
    await writeFileAtomic(join(trainer.out, filename), (put) => put(text));
  }

  serialize(serializer: Serializer): void {
    this.interval.serialize?.(serializer.child('_trigger'));
    this.summary.serialize(serializer.child('_summary'));
    serializeJson(serializer, '_log', this.entries, (v) => {
      if (!Array.isArray(v) || v.some((e) => e === null || typeof e !== 'object')) throw new Error('LogReport: the stored log is not a list of entries');
      this.entries = v as Observation[];
    });
  }
}
