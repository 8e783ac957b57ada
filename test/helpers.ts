// Shared test harness: parameter products, closeness checks, kernel counting.

import type { ExecutionContext } from 'ava';
import { dispatchStats } from '../runtime/array/cpu/kernels.js';
import { NDArray } from '../runtime/array/ndarray.js';
import '../runtime/graph/backward.js';
import * as F from '../runtime/ops/index.js';
import { checkBackward, checkDoubleBackward, type CheckOptions, type CheckedFn } from '../runtime/gradient-check.js';
import { RandomState } from '../runtime/array/random.js';

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

// ---- op tests: tagged gradient checks, seeded inputs, plain-JS references ---------------

type Ops = typeof F;
/** The names of the functions exported from F. */
export type OpName = { [K in keyof Ops]: Ops[K] extends (...args: never[]) => unknown ? K : never }[keyof Ops];

/** `F[name]` wrapped so that a check can prove the op it is tagged with was really called. */
function spyOn<K extends OpName>(name: K): { op: Ops[K]; calls: () => number } {
  let n = 0;
  const real = F[name] as unknown as (...args: unknown[]) => unknown;
  const op = ((...args: unknown[]) => {
    n++;
    return real(...args);
  }) as unknown as Ops[K];
  return { op, calls: () => n };
}

/**
 * checkBackward for the op `name`: `build` receives F[name] (spied) and returns the checked
 * function. The first argument must be a string literal: test/ops/registry.test.ts finds
 * the gradient checks by scanning for it, and this throws if the op was never called.
 */
export function checkOpBackward<K extends OpName>(
  name: K, build: (op: Ops[K]) => CheckedFn, inputs: readonly NDArray[], gys?: readonly NDArray[] | null, opts?: CheckOptions,
): void {
  const { op, calls } = spyOn(name);
  checkBackward(build(op), inputs, gys, opts);
  if (calls() === 0) throw new Error(`checkOpBackward('${name}'): the checked function never called F.${name}`);
}

/** checkDoubleBackward for the op `name`, tagged and spied like checkOpBackward. */
export function checkOpDoubleBackward<K extends OpName>(
  name: K, build: (op: Ops[K]) => CheckedFn, inputs: readonly NDArray[], gys: readonly NDArray[],
  ggxs?: readonly NDArray[] | null, opts?: CheckOptions,
): void {
  const { op, calls } = spyOn(name);
  checkDoubleBackward(build(op), inputs, gys, ggxs, opts);
  if (calls() === 0) throw new Error(`checkOpDoubleBackward('${name}'): the checked function never called F.${name}`);
}

const sizeOfShape = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Seeded float64 samples from `draw` in an NDArray of `shape`. */
export function sample(shape: readonly number[], seed: number, draw: (rng: RandomState) => number): NDArray {
  const rng = new RandomState(seed);
  const data = new Float64Array(sizeOfShape(shape));
  for (let i = 0; i < data.length; i++) data[i] = draw(rng);
  return new NDArray(data, shape.slice());
}

/** Uniform float64 in [lo, hi). */
export const uniform = (shape: readonly number[], seed: number, lo = -1, hi = 1): NDArray =>
  sample(shape, seed, (r) => lo + (hi - lo) * r.uniform());

/** Float64 with |x| in [lo, hi) and a random sign: away from the kink of relu, abs and friends at 0. */
export const awayFromZero = (shape: readonly number[], seed: number, lo = 0.2, hi = 2): NDArray =>
  sample(shape, seed, (r) => (r.uniform() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r.uniform()));

/** Float64 values that are pairwise at least `gap` apart, in random order (no ties for max/min). */
export function distinct(shape: readonly number[], seed: number, gap = 0.1): NDArray {
  const rng = new RandomState(seed);
  const n = sizeOfShape(shape);
  const perm = rng.permutation(n);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = (perm[i] - n / 2) * gap;
  return new NDArray(data, shape.slice());
}

/** Row-major strides of `shape`, computed here so references do not lean on kusari. */
export function refStrides(shape: readonly number[]): number[] {
  const s: number[] = [];
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** The multi-index of flat position `i` in `shape`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

/**
 * A plain-JS NumPy broadcast of `fn` over flat row-major operands: the reference for
 * elementwise ops. Returns the output shape and values.
 */
export function refBroadcast(
  fn: (...v: number[]) => number, ...xs: { data: ArrayLike<number>; shape: readonly number[] }[]
): { shape: number[]; data: number[] } {
  const rank = Math.max(...xs.map((x) => x.shape.length));
  const shape = Array.from({ length: rank }, (_, d) =>
    Math.max(...xs.map((x) => x.shape[d - (rank - x.shape.length)] ?? 1)));
  const data: number[] = [];
  const n = sizeOfShape(shape);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    const vals = xs.map((x) => {
      const st = refStrides(x.shape);
      let p = 0;
      x.shape.forEach((m, d) => { p += (m === 1 ? 0 : idx[d + rank - x.shape.length]) * st[d]; });
      return x.data[p];
    });
    data.push(fn(...vals));
  }
  return { shape, data };
}

/** The flat values and shape of an NDArray, for refBroadcast. */
export const plain = (x: NDArray): { data: number[]; shape: number[] } => ({ data: Array.from(x.toFlat()), shape: x.shape.slice() });
