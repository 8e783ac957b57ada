// The library's kernels that need no shapes, as each op lists them: a device-neutral registry that the background precompile (fusion/background.ts) reads.

import type { Expr } from '../../compiler/expr.js';
import type { ReduceOp } from '../../compiler/js.js';
import type { DType } from './ndarray.js';

/** A kernel written out in full (matmul's tilings, pack): created as it is. */
export interface LibraryKernel { readonly name: string; readonly source: string }
/** What one `backend.elementwise(roots, ...)` call of an op needs, every variant (flat4, flat, strided). */
export interface LibraryElementwise { readonly roots: readonly Expr[]; readonly inputs: readonly DType[]; readonly outputs: readonly DType[]; readonly aliases?: readonly (number | undefined)[] }
/** What one `backend.reduce(op, map, ...)` call needs with `kept` and `reduced` dims after collapsing: the serial kernel and the tree one with its second pass. */
export interface LibraryReduce { readonly reduce: ReduceOp; readonly map: Expr; readonly inputs: readonly DType[]; readonly output: DType; readonly kept: number; readonly reduced: number }
export type LibraryVariant = LibraryKernel | LibraryElementwise | LibraryReduce;

type Family = () => readonly LibraryVariant[];
const families: Family[] = [];
let listener: ((family: Family) => void) | null = null;

/**
 * Register a library op's kernels that need no shapes: matmul's tilings and transposes, pack,
 * the loss's reductions, the optimizers' updates, a gradient's accumulation. `variants` is
 * called on each device (tilings depend on it) and lists a finite set, computed in the op's
 * own module by the function that picks among them at a call. They are created in the
 * background (fusion/background.ts) with the declared kernels once the app declares one (a built app, whose first
 * step should compile nothing); an unbuilt app makes them at first use, as before. A variant
 * not listed (a batched product, a rank seen rarely) is compiled at first use: it costs
 * time, never correctness.
 */
export function libraryKernels(variants: Family): void {
  families.push(variants);
  listener?.(variants);
}

/**
 * How the background precompile learns of the families: every one registered so far, then each
 * one registered later. Kept apart from it so that an op (and the graph that imports ops' array
 * functions) registers without importing any WebGPU code.
 */
export function onLibraryKernels(f: (family: Family) => void): void {
  listener = f;
  for (const v of families) f(v);
}
