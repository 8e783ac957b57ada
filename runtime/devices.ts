// Devices from the user's side: start or inject WebGPU, pick the array module of a value.

import { arrayModule, type ArrayModule } from './array/array-module.js';
import { NDArray, type Device } from './array/ndarray.js';
import { Variable } from './graph/variable.js';

import { GpuStorage, releasing } from './array/webgpu/memory.js';

export { initWebGpu, useDevice, releaseWebGpu, memory, collect } from './array/webgpu/index.js';
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
  }, (result) => storagesIn(result, new Set()));
}

function* storagesIn(value: unknown, seen: Set<unknown>): Generator<GpuStorage> {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof NDArray) {
    if (value.storage instanceof GpuStorage) yield value.storage;
  } else if (value instanceof Variable) {
    yield* storagesIn(value.data, seen);
    yield* storagesIn(value.gradVar, seen);
  } else if (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) yield* storagesIn(v, seen);
  }
}
