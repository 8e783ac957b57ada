// The reporter: models call report() during a step; the Trainer and Evaluator collect the values.

import { NDArray, shapeStr } from '../array/ndarray.js';
import { pin } from '../array/pin.js';
import { Variable } from '../graph/variable.js';
import type { Serializer } from '../serializers/serializer.js';

/** What report() accepts: a number, or a one-element array or Variable (a loss, an accuracy). */
export type Reportable = number | NDArray | Variable;

/** Values reported during one step, by key; arrays are read into numbers by `readObservation`. */
export type RawObservation = Record<string, number | NDArray>;

/** Reported values, read into numbers. */
export type Observation = Record<string, number>;

// report() writes into the innermost active reporter; scopes nest (an Evaluator inside a Trainer).
const current: Reporter[] = [];

/**
 * Chainer's Reporter. Observers (usually links) are registered under names, so that
 * `report({ loss }, model)` inside a model's forward is recorded as `main/loss` when the
 * Trainer registered the model as `main`, and as `validation/main/loss` inside the Evaluator.
 *
 * ```ts
 * const r = new Reporter();
 * r.addObserver('main', model);
 * const obs: RawObservation = {};
 * r.scope(obs, () => model.forward(x, t));   // the model calls report({ loss }, this)
 * const values = await readObservation(obs);  // { 'main/loss': 0.31 }
 * ```
 */
export class Reporter {
  /** The observation being filled, while inside `scope`. */
  observation: RawObservation | null = null;
  private readonly names = new Map<object, string>();

  /** Register `observer` so that its reports are prefixed with `name/`. */
  addObserver(name: string, observer: object): void {
    this.names.set(observer, name);
  }

  /** Register several observers, each under `prefix` + its own name (`main` + `/l1`). */
  addObservers(prefix: string, observers: Iterable<readonly [string, object]>): void {
    for (const [name, observer] of observers) this.addObserver(prefix + name, observer);
  }

  /**
   * Make this the current reporter and `observation` the dict that report() fills, while
   * `fn` runs. `fn` must be synchronous: the current reporter is a stack, not an async context.
   */
  scope<T>(observation: RawObservation, fn: () => T): T {
    const saved = this.observation;
    this.observation = observation;
    current.push(this);
    try {
      return fn();
    } finally {
      current.pop();
      this.observation = saved;
    }
  }

  /** Record `values` into the current observation, prefixed by the observer's name if given. */
  report(values: Record<string, Reportable>, observer?: object): void {
    if (this.observation === null) return;
    let prefix = '';
    if (observer !== undefined) {
      const name = this.names.get(observer);
      if (name === undefined) {
        throw new Error(`report: the observer (${observer.constructor?.name ?? typeof observer}) is not registered with the reporter; ` +
          'register it with addObserver(name, observer) or report without an observer');
      }
      prefix = `${name}/`;
    }
    for (const [key, value] of Object.entries(values)) this.observation[prefix + key] = scalarOf(value, prefix + key);
  }
}

/**
 * Report values to the current reporter (Chainer's `chainer.report`); does nothing outside
 * a reporter's scope, so a model that reports also runs on its own.
 *
 * ```ts
 * forward(x: Variable, t: Variable) {
 *   const loss = F.softmaxCrossEntropy(this.predictor.forward(x), t);
 *   report({ loss }, this);   // 'main/loss' in the Trainer's log
 *   return loss;
 * }
 * ```
 */
export function report(values: Record<string, Reportable>, observer?: object): void {
  current.at(-1)?.report(values, observer);
}

/** The reporter whose scope is active, or null. */
export function getCurrentReporter(): Reporter | null {
  return current.at(-1) ?? null;
}

/** A Variable is kept only as its data: holding the Variable would keep the step's whole graph alive. */
function scalarOf(value: Reportable, key: string): number | NDArray {
  if (typeof value === 'number') return value;
  const data = value instanceof Variable ? value.data : value;
  if (!(data instanceof NDArray)) {
    throw new Error(`report: value for '${key}' must be a number, an NDArray or a Variable, got ${value === null ? 'null' : typeof value}`);
  }
  if (data.size !== 1) throw new Error(`report: value for '${key}' must hold one element, got shape ${shapeStr(data.shape)}`);
  // read after the step: optimizer.update(lossFn) must not give its GPU memory back with the step's temporaries
  return pin(data);
}

/** The observation with every array read into a number (a GPU value is awaited). */
export async function readObservation(raw: RawObservation): Promise<Observation> {
  const out: Observation = {};
  for (const [key, value] of Object.entries(raw)) out[key] = typeof value === 'number' ? value : await value.item();
  return out;
}

/**
 * Means and standard deviations of values per key (Chainer's DictSummary); each key keeps
 * its own count, so a key reported once per epoch averages over its own reports only.
 */
export class DictSummary {
  private sums = new Map<string, [sum: number, sumSquares: number, n: number]>();

  add(observation: Observation): void {
    for (const [key, v] of Object.entries(observation)) {
      const s = this.sums.get(key);
      if (s === undefined) this.sums.set(key, [v, v * v, 1]);
      else { s[0] += v; s[1] += v * v; s[2] += 1; }
    }
  }

  computeMean(): Observation {
    const out: Observation = {};
    for (const [key, [sum, , n]] of this.sums) out[key] = sum / n;
    return out;
  }

  /** `key` and `key.std` for every key, as Chainer's make_statistics. */
  makeStatistics(): Observation {
    const out: Observation = {};
    for (const [key, [sum, sq, n]] of this.sums) {
      const mean = sum / n;
      out[key] = mean;
      out[`${key}.std`] = Math.sqrt(Math.max(0, sq / n - mean * mean));
    }
    return out;
  }

  get size(): number { return this.sums.size; }

  clear(): void { this.sums.clear(); }

  /** Saved as JSON so that a resumed run continues the interval's mean exactly (JSON keeps every bit of a double). */
  serialize(serializer: Serializer): void {
    serializeJson(serializer, '_dictionary', [...this.sums], (v) => {
      this.sums = new Map(checkSums(v));
    });
  }
}

function checkSums(v: unknown): [string, [number, number, number]][] {
  const ok = Array.isArray(v) && v.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' &&
    Array.isArray(e[1]) && e[1].length === 3 && e[1].every((x: unknown) => typeof x === 'number'));
  if (!ok) throw new Error('DictSummary: the stored summary is not a list of [key, [sum, sumSquares, n]]');
  return v as [string, [number, number, number]][];
}

/**
 * A JSON value under `key`, stored as its UTF-8 bytes in an int32 array (the Serializer
 * carries arrays and numbers only). Loading parses it and hands it to `assign`.
 */
export function serializeJson(serializer: Serializer, key: string, value: unknown, assign: (loaded: unknown) => void): void {
  const bytes = serializer.loading ? null : Int32Array.from(new TextEncoder().encode(JSON.stringify(value)));
  const current = bytes === null ? null : new NDArray(bytes, [bytes.length]);
  serializer.array(key, current, (loaded) => {
    if (loaded.dtype !== 'int32' || loaded.ndim !== 1) throw new Error(`${key}: expected a 1-d int32 array of UTF-8 bytes, got ${shapeStr(loaded.shape)} ${loaded.dtype}`);
    const flat = loaded.toFlat();
    if (flat.some((b) => b < 0 || b > 255)) throw new Error(`${key}: the stored bytes are not UTF-8 (a value outside 0..255)`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(flat)));
    } catch (e) {
      throw new Error(`${key}: the stored text is not valid JSON (${(e as Error).message})`);
    }
    assign(parsed);
  });
}
