// Shared test harness: parameter products, closeness checks, kernel counting.

import type { ExecutionContext } from 'ava';
import { dispatchStats } from '../runtime/array/cpu/kernels.js';
import { NDArray } from '../runtime/array/ndarray.js';

/** Every combination of the given parameter lists (Chainer's testing.product). */
export function product<T extends Record<string, readonly unknown[]>>(params: T): { [K in keyof T]: T[K][number] }[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [k, values] of Object.entries(params)) {
    out = out.flatMap((o) => values.map((v) => ({ ...o, [k]: v })));
  }
  return out as { [K in keyof T]: T[K][number] }[];
}

/** The devices the suite runs on. */
export const DEVICES = ['cpu'] as const;

/** Flat numbers of an NDArray, a typed array or nested arrays. */
export function flat(x: NDArray | ArrayLike<number> | number | unknown[]): number[] {
  if (x instanceof NDArray) return Array.from(x.toFlat());
  if (typeof x === 'number') return [x];
  if (Array.isArray(x)) return (x as unknown[]).flat(Infinity) as number[];
  return Array.from(x as ArrayLike<number>);
}

/** Assert elementwise |a - b| <= atol + rtol |b| (NaN equals NaN), with a readable failure. */
export function allclose(
  t: ExecutionContext, actual: NDArray | ArrayLike<number> | number | unknown[], expected: NDArray | ArrayLike<number> | number | unknown[],
  { atol = 1e-6, rtol = 1e-5 } = {},
): void {
  const a = flat(actual), b = flat(expected);
  if (a.length !== b.length) {
    t.fail(`length ${a.length} != expected ${b.length}`);
    return;
  }
  for (let i = 0; i < a.length; i++) {
    const ok = (Number.isNaN(a[i]) && Number.isNaN(b[i])) || a[i] === b[i] || Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]);
    if (!ok) {
      t.fail(`element ${i}: ${a[i]} != expected ${b[i]} (atol ${atol}, rtol ${rtol})`);
      return;
    }
  }
  t.pass();
}

/** Run `fn` and return how many kernels it dispatched. */
export function countKernels(fn: () => unknown): number {
  const before = dispatchStats.count;
  fn();
  return dispatchStats.count - before;
}
