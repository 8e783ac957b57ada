// Trainer: runs the updater until the stop trigger fires, calling extensions as their triggers say.

import { mkdirSync } from 'node:fs';
import { random } from '../array/random.js';
import type { Serializable, Serializer } from '../serializers/serializer.js';
import { PRIORITY_READER, type Extension, type ExtensionLike } from './extension.js';
import { Reporter, readObservation, type Observation, type RawObservation } from './reporter.js';
import { getTrigger, type Trigger, type TriggerLike } from './triggers.js';
import type { Updater } from './updater.js';

export interface ExtendOptions {
  trigger?: TriggerLike;
  priority?: number;
  name?: string;
}

interface Entry { extension: Extension; trigger: Trigger; priority: number; order: number }

/** Run `fn` in a later task of the event loop (setImmediate in Node, a zero timeout elsewhere). */
const nextTask: (fn: () => void) => void = typeof setImmediate === 'function' ? (fn) => setImmediate(fn) : (fn) => setTimeout(fn, 0);

/**
 * Chainer's Trainer. Each iteration: the updater makes one step inside the reporter's scope
 * (so `report()` in the model lands in `observation`), the reported arrays are read into
 * numbers, and every extension whose trigger fires is called, highest priority first.
 *
 * ```ts
 * const trainer = new Trainer(new StandardUpdater(trainIter, optimizer), [20, 'epoch'], { out: 'result' });
 * trainer.extend(new Evaluator(testIter, model));
 * trainer.extend(new LogReport());
 * trainer.extend(new ProgressBar());
 * trainer.extend(snapshot(), { trigger: [1, 'epoch'] });
 * await trainer.run();
 * ```
 */
export class Trainer implements Serializable {
  readonly stopTrigger: Trigger;
  /** The folder that logs, plots and snapshots go to (created by run()). */
  readonly out: string;
  readonly reporter = new Reporter();
  /** What was reported during the current iteration (extensions may add to it). */
  observation: Observation = {};
  private readonly entries = new Map<string, Entry>();
  private started: number | null = null;
  private elapsedBefore = 0;  // seconds spent before a resume, from the snapshot
  private running = false;

  constructor(readonly updater: Updater, stopTrigger: TriggerLike = [1, 'epoch'], opts: { out?: string } = {}) {
    this.stopTrigger = getTrigger(stopTrigger);
    this.out = opts.out ?? 'result';
    // the models are observers: report({ loss }, model) inside a step is recorded as main/loss
    for (const [name, optimizer] of Object.entries(updater.getAllOptimizers())) {
      const target = optimizer.target;
      if (target === null) continue;
      this.reporter.addObserver(name, target);
      this.reporter.addObservers(name, [...target.namedLinks()].filter(([path]) => path !== '/'));
    }
  }

  /** Seconds of training so far, including the time before a resume. */
  get elapsedTime(): number {
    return this.elapsedBefore + (this.started === null ? 0 : (performance.now() - this.started) / 1000);
  }

  /**
   * Register an extension. Options override the extension's own trigger, priority and name;
   * a repeated name gets a suffix (`LogReport_1`), as in Chainer.
   */
  extend(extension: ExtensionLike, opts: ExtendOptions = {}): this {
    if (this.running) throw new Error('Trainer.extend: cannot add an extension while the trainer runs');
    const ext: Extension = typeof extension === 'function' ? { call: extension, name: extension.name || undefined } : extension;
    if (ext === null || typeof ext !== 'object' || typeof ext.call !== 'function') {
      throw new Error('Trainer.extend: expected an extension (an object with call(trainer)) or a function');
    }
    const className = typeof extension === 'function' || ext.constructor === Object ? 'extension' : ext.constructor.name;
    const base = opts.name ?? ext.name ?? className;
    let name = base;
    for (let k = 1; this.entries.has(name); k++) name = `${base}_${k}`;
    this.entries.set(name, {
      extension: ext,
      trigger: getTrigger(opts.trigger ?? ext.trigger ?? [1, 'iteration']),
      priority: opts.priority ?? ext.priority ?? PRIORITY_READER,
      order: this.entries.size,
    });
    return this;
  }

  /** The extension registered under `name`. */
  getExtension<E extends Extension = Extension>(name: string): E {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new Error(`Trainer.getExtension: no extension named '${name}' (have ${[...this.entries.keys()].join(', ') || 'none'})`);
    return entry.extension as E;
  }

  /** Train until the stop trigger fires. Extensions are finalized also when a step throws. */
  async run(): Promise<void> {
    if (this.running) throw new Error('Trainer.run: already running');
    this.running = true;
    mkdirSync(this.out, { recursive: true });
    const entries = [...this.entries.values()].sort((a, b) => b.priority - a.priority || a.order - b.order);
    this.started = performance.now();
    try {
      for (const { extension } of entries) await extension.initialize?.(this);
      while (!this.stopTrigger.call(this)) {
        const raw: RawObservation = {};
        this.reporter.scope(raw, () => this.updater.update());
        this.observation = await readObservation(raw);
        // A macrotask turn each step: finalizers run only between tasks, and on a GPU the buffers
        // of dropped arrays that no scope released (reported values, say) come back through them.
        await new Promise<void>((resolve) => nextTask(resolve));
        for (const { extension, trigger } of entries) {
          if (trigger.call(this)) await extension.call(this);
        }
      }
    } finally {
      for (const { extension } of entries) await extension.finalize?.(this);
      this.elapsedBefore = this.elapsedTime;
      this.started = null;
      this.running = false;
    }
  }

  /**
   * The whole training state, under Chainer's keys (`updater/...`, `extensions/<name>/...`,
   * `extension_triggers/<name>/...`, `stop_trigger/...`), plus `random/state`: the global
   * stream that initializers, dropout and shuffling draw from, so a resumed run continues
   * with the same numbers.
   */
  serialize(serializer: Serializer): void {
    this.updater.serialize(serializer.child('updater'));
    this.stopTrigger.serialize?.(serializer.child('stop_trigger'));
    const extensions = serializer.child('extensions'), triggers = serializer.child('extension_triggers');
    for (const [name, { extension, trigger }] of this.entries) {
      extension.serialize?.(extensions.child(name));
      trigger.serialize?.(triggers.child(name));
    }
    random.serialize(serializer.child('random'));
    serializer.number('elapsed_time', this.elapsedTime, (v) => {
      this.elapsedBefore = v;
      if (this.started !== null) this.started = performance.now();
    });
  }
}
