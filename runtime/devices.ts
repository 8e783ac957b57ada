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

// What each owner's last step kept because the model held it (gradients, mostly), and the
// gradients backward handed to the leaves of its loss's graph (input Variables), by leaf.
const carried = new WeakMap<object, { held: Set<Storage>; leaves: Map<Variable, Storage> }>();

/**
 * @internal optimizer.update(lossFn)'s scope: run `fn` and give back the memory of every
 * array created inside it except its result (the loss), what `held()` reaches (the model's
 * fields) and the gradients of the loss graph's leaves (an input Variable the user holds may
 * be reused, and its gradient accumulates over consecutive steps); then also what the
 * previous step of `owner` kept and this one no longer does (last step's gradients, dropped
 * by cleargrads or replaced by accumulation).
 *
 * An input whose gradient the previous step made and this step did not touch gets its
 * gradient cleared, on every device, and on a GPU its memory back: otherwise a loop making
 * a fresh input each step would keep every step's input gradient until the collector ran,
 * and an input used again later (x, y, x) would accumulate into given-back memory. So an
 * input's gradient lasts until the next step that does not use it. Deterministic: no
 * collector, no await.
 */
export function stepScope<T>(owner: object, fn: () => T, held: () => unknown): T {
  // filled by the release's keep (a device that frees early), else after it: one walk either way
  const now: { held: Set<Storage>; leaves: Map<Variable, Storage> | null } = { held: new Set(), leaves: null };
  const result = releasing(fn, (r) => {
    now.held = new Set(storagesIn(held(), true));
    now.leaves = leafGradients(r);
    return [...storagesIn(r), ...now.held, ...now.leaves.values()];
  }, 'optimizer.update(lossFn)');
  const leavesNow = now.leaves ?? leafGradients(result);
  const before = carried.get(owner);
  for (const [leaf, s] of before?.leaves ?? []) {
    if (leavesNow.get(leaf) === s) continue;
    // replaced by accumulation (a new array), or untouched by this step: the old array goes
    if (!leavesNow.has(leaf) && leaf.gradVar?.data.storage === s) leaf.cleargrad();
    memoryOf(s).release(s, 'optimizer.update(lossFn)');
  }
  const leafArrays = new Set(leavesNow.values());
  for (const s of before?.held ?? []) if (!now.held.has(s) && !leafArrays.has(s)) memoryOf(s).release(s, 'optimizer.update(lossFn)');
  carried.set(owner, { held: now.held, leaves: leavesNow });
  return result;
}

/** The gradient storages that backward gave to the leaves of `root`'s graph, by leaf. Iterative: graphs can be deep. */
function leafGradients(root: unknown): Map<Variable, Storage> {
  const out = new Map<Variable, Storage>();
  if (!(root instanceof Variable)) return out;
  const seen = new Set<Variable>();
  const stack = [root];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    if (v.creator !== null) for (const x of v.creator.inputs) stack.push(x);
    else if (v.gradVar !== null) out.set(v, v.gradVar.data.storage);
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
