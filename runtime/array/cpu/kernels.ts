// CPU kernels on typed arrays: the generated elementwise and reduction loops.

import type { Expr } from '../../../compiler/expr.js';
import { collapse, compileLoop, renderLoop, type LoopFn, type ReduceOp } from '../../../compiler/js.js';
import { NDArray, TYPED, sizeOf, type DType } from '../ndarray.js';
import { wasmElementwise } from './wasm-elementwise.js';

/** Kernel launches so far; tests count them to prove a chain ran as one loop. */
export const dispatchStats = { count: 0 };

// Source rendering is cheap but not free: remember it per (expressions, rank, sink).
const loops = new Map<string, LoopFn>();
function loopFor(roots: readonly Expr[], nInputs: number, rank: number, sinkKey: string, render: () => string): LoopFn {
  const key = `${roots.map((r) => r.id).join(',')}|${nInputs}|${rank}|${sinkKey}`;
  let fn = loops.get(key);
  if (fn === undefined) {
    fn = compileLoop(render());
    loops.set(key, fn);
  }
  return fn;
}

/**
 * Evaluate `roots` (over `input(k)` = inputs[k], `scalar(i)` = scalars[i]) at every position
 * of `shape`, broadcasting inputs, into fresh contiguous arrays or into `outs`.
 */
export function elementwise(
  roots: readonly Expr[],
  inputs: readonly NDArray[],
  scalars: readonly number[],
  shape: readonly number[],
  dtype: DType,
  outs?: readonly NDArray[],
): NDArray[] {
  const results: readonly NDArray[] = outs ?? roots.map(() => new NDArray(new TYPED[dtype](sizeOf(shape)), shape));
  const operands = [...inputs.map((x) => x.broadcastTo(shape)), ...results];
  const layout = collapse({
    shape: shape.slice(),
    strides: operands.map((a) => a.strides.slice()),
    offsets: operands.map((a) => a.offset),
  });
  dispatchStats.count++;
  const buffers = operands.map((a) => a.buffer);
  // float32 over contiguous or simply broadcast operands, big enough to pay for staging:
  // SIMD WebAssembly; anything else (or KUSARI_NO_WASM=1, setWasm(false)) the JS loop
  if (dtype === 'float32' && wasmElementwise(roots, buffers, scalars, layout)) return results.slice();
  const fn = loopFor(roots, inputs.length, layout.shape.length, 'store', () =>
    renderLoop(roots, inputs.length, layout.shape.length, { kind: 'store' }));
  fn(buffers, scalars, layout.shape, layout.strides, layout.offsets);
  return results.slice();
}

const INIT: { [O in ReduceOp]: number } = { sum: 0, max: -Infinity, min: Infinity };

/**
 * Reduce `map(inputs)` over `axes` with `op`. Sums accumulate in float64 whatever the input
 * dtype, so a mean over a large batch does not drift; the result is cast back to `dtype`.
 */
export function reduce(
  op: ReduceOp,
  map: Expr,
  inputs: readonly NDArray[],
  scalars: readonly number[],
  shape: readonly number[],
  axes: readonly number[],
  dtype: DType,
): NDArray {
  const outShape = shape.map((n, d) => (axes.includes(d) ? 1 : n));
  const accDtype: DType = op === 'sum' ? 'float64' : dtype;
  const acc = new NDArray(new TYPED[accDtype](sizeOf(outShape)).fill(INIT[op]), outShape);
  const accStrides = acc.strides.map((s, d) => (axes.includes(d) ? 0 : s));
  const operands = inputs.map((x) => x.broadcastTo(shape));
  const layout = collapse({
    shape: shape.slice(),
    strides: [...operands.map((a) => a.strides.slice()), accStrides],
    offsets: [...operands.map((a) => a.offset), 0],
  });
  const rank = layout.shape.length;
  const innerStays = layout.strides[inputs.length][rank - 1] === 0;
  const fn = loopFor([map], inputs.length, rank, `${op}${innerStays}`, () =>
    renderLoop([map], inputs.length, rank, { kind: 'reduce', op, innerStays }));
  dispatchStats.count++;
  if (sizeOf(shape) > 0) fn([...operands.map((a) => a.buffer), acc.buffer], scalars, layout.shape, layout.strides, layout.offsets);
  if (accDtype === dtype) return acc;
  return new NDArray(new TYPED[dtype](acc.buffer), outShape);
}
