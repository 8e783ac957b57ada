// Devices from the user's side: pick the array module of a value, free a loop's memory early (scope()).

import { arrayModule, type ArrayModule } from './array/array-module.js';
import { memoryOf, releasing } from './array/backend.js';
import { NDArray, type Device, type Storage } from './array/ndarray.js';
import { Variable } from './graph/variable.js';

export type { ArrayModule };

/**
 * The array module for the device its arguments live on (CPU when none is an array):
 * `const xp = getArrayModule(x)` then `xp.exp(x)` runs on x's device.
 */
export function getArrayModule(...xs: unknown[]): ArrayModule {
  let device: Device = 'cpu';
  for (const x of xs) {
    const d = x instanceof Variable ? x.data.device : x instanceof NDArray ? x.device : null;
    if (d !== null && d !== 'cpu') device = d;
  }
  return arrayModule(device);
}

/**
 * Run `fn` (synchronous) and give back, as soon as it returns, the GPU memory of every array
 * created inside it, except what its result holds (arrays, Variables and their gradients,
 * inside arrays and plain objects) and long-lived state (parameters, optimizer moments).
 * For tight loops that should not wait for the garbage collector:
 *
 * ```ts
 * for (...) {
 *   const loss = scope(() => { const l = lossOf(batch); model.cleargrads(); l.backward(); opt.update(); return l; });
 *   total += await loss.item();
 * }
 * ```
 * An array given back this way throws if used again (keep it by returning it). The CPU
 * needs no such help; there scope() just runs fn.
 */
export function scope<T>(fn: () => T): T {
  return releasing(() => {
    const result = fn();
    if (result instanceof Promise) throw new Error('scope: fn must be synchronous (GPU work is recorded synchronously; await outside the scope)');
    return result;
  }, (result) => storagesIn(result), 'scope()');
}

// What each owner's last step kept because the model held it (gradients, mostly) or because
// backward handed it to a leaf of the loss's graph (an input Variable's gradient).
const carried = new WeakMap<object, Set<Storage>>();

/**
 * @internal optimizer.update(lossFn)'s scope: run `fn` and give back the memory of every
 * array created inside it except its result (the loss), what `held()` reaches (the model's
 * fields) and the gradients of the loss graph's leaves (an input Variable the user holds may
 * be reused, and its gradient accumulates); then also what the previous step of `owner` kept
 * and this one no longer does (last step's gradients, dropped by cleargrads or replaced by
 * accumulation; a leaf's gradient from a step before, its leaf unused since). Deterministic:
 * no collector, no await. A device that frees nothing early (the CPU) pays only a check.
 */
export function stepScope<T>(owner: object, fn: () => T, held: () => unknown): T {
  let now: Set<Storage> | null = null;
  const result = releasing(fn, (r) => {
    now = new Set([...storagesIn(held(), true), ...leafGradients(r)]);
    return [...storagesIn(r), ...now];
  }, 'optimizer.update(lossFn)');
  if (now !== null) {
    const kept: Set<Storage> = now;
    for (const s of carried.get(owner) ?? []) if (!kept.has(s)) memoryOf(s).release(s, 'optimizer.update(lossFn)');
    carried.set(owner, kept);
  }
  return result;
}

/** The storages of the gradients that backward gave to the leaves of `root`'s graph. Iterative: graphs can be deep. */
function leafGradients(root: unknown): Storage[] {
  if (!(root instanceof Variable)) return [];
  const out: Storage[] = [];
  const seen = new Set<Variable>();
  const stack = [root];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    if (v.creator !== null) for (const x of v.creator.inputs) stack.push(x);
    else if (v.gradVar !== null) out.push(v.gradVar.data.storage);
  }
  return out;
}

/**
 * The storages that `root` reaches through arrays, Variables (data and gradient), lists and
 * plain objects; with `graphs`, also through Variables' creators (a stateful link's state
 * carries its history until unchained). Iterative: graphs can be deep.
 */
function storagesIn(root: unknown, graphs = false): Storage[] {
  const out: Storage[] = [];
  const seen = new Set<unknown>();
  const stack = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value === null || typeof value !== 'object' || seen.has(value)) continue;
    seen.add(value);
    if (value instanceof NDArray) {
      out.push(value.storage);
    } else if (value instanceof Variable) {
      stack.push(value.data, value.gradVar);
      if (graphs && value.creator !== null) stack.push(value.creator.inputs, value.creator.retainedArrays);
    } else if (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype) {
      for (const v of Object.values(value)) stack.push(v); // no spread: lists can be long
    }
  }
  return out;
}
