// CPU kernels on typed arrays: the generated elementwise and reduction loops.

import type { Expr } from '../../../compiler/expr.js';
import { dispatchStats, intArithmetic } from '../backend.js';
import { collapse, compileLoop, renderLoop, type Layout, type LoopFn, type ReduceOp } from '../../../compiler/js.js';
import { NDArray, TYPED, contiguousStrides, sizeOf, type DType } from '../ndarray.js';
import { wasmElementwise } from './wasm-elementwise.js';

// counted on every device; re-exported where tests and benches have always found it
export { dispatchStats };

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
  // int32 outputs saturate (NaN to 0), as WGSL's conversion does, not wrap as Int32Array would
  const ints = results.map((r) => r.dtype === 'int32');
  const intMath = intArithmetic(roots, inputs, scalars, results);
  const fn = loopFor(roots, inputs.length, layout.shape.length, `store${ints.map(Number).join('')}${intMath ? 'i' : ''}`, () =>
    renderLoop(roots, inputs.length, layout.shape.length, { kind: 'store', ints, intMath }));
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
  // an Int32Array stores -Infinity as 0: an int32 max (min) starts from the smallest (largest) int32
  const init = accDtype === 'int32' && op !== 'sum' ? (op === 'max' ? -0x80000000 : 0x7fffffff) : INIT[op];
  const acc = new NDArray(new TYPED[accDtype](sizeOf(outShape)).fill(init), outShape);
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
  const plain = inputs.length === 1 && map.op === 'input' && map.value === 0;
  if (sizeOf(shape) > 0 && !(plain && runsReduce(op, operands[0].buffer, acc.buffer, layout))) {
    fn([...operands.map((a) => a.buffer), acc.buffer], scalars, layout.shape, layout.strides, layout.offsets);
  }
  if (accDtype === dtype) return acc;
  return new NDArray(new TYPED[dtype](acc.buffer), outShape);
}

// ---- unrolled loops for plain reductions over contiguous runs -------------------------------

/** Inner runs shorter than this stay on the generated loop: the calls below cost more than they save. */
const RUN_FROM = 32;

type Buf = Float32Array | Float64Array | Int32Array;

/**
 * sum/max/min of x over contiguous runs, written out by hand: four independent
 * accumulators break the add latency chain a single `acc += x[i]` waits on (about 3x on
 * V8), and a kept contiguous inner axis adds whole rows into the accumulator. Handles a
 * collapsed layout whose input has unit inner stride; false (nothing written) otherwise.
 */
function runsReduce(op: ReduceOp, x: Buf, acc: Buf, layout: Layout): boolean {
  const rank = layout.shape.length, inner = rank - 1;
  const [xs, as] = layout.strides, len = layout.shape[inner];
  if (xs[inner] !== 1 || len < RUN_FROM) return false;
  const reduceRun = as[inner] === 0;
  if (!reduceRun && as[inner] !== 1) return false;
  // an odometer over the outer dims
  const idx = new Array<number>(inner).fill(0);
  let xo = layout.offsets[0], ao = layout.offsets[1];
  // rows summed into the same accumulator row (a reduced axis just outside): four at a time
  const rows4 = !reduceRun && op === 'sum' && inner >= 1 && as[inner - 1] === 0;
  for (;;) {
    let step = 1;
    if (reduceRun) acc[ao] = combine(op, acc[ao], runOf(op, x, xo, len));
    else if (rows4 && idx[inner - 1] + 4 <= layout.shape[inner - 1]) {
      addRows4(x, xo, xs[inner - 1], acc, ao, len);
      step = 4;
    } else addRow(op, x, xo, acc, ao, len);
    let d = inner - 1;
    for (; d >= 0; d--, step = 1) {
      xo += xs[d] * step;
      ao += as[d] * step;
      if ((idx[d] += step) < layout.shape[d]) break;
      xo -= xs[d] * layout.shape[d];
      ao -= as[d] * layout.shape[d];
      idx[d] = 0;
    }
    if (d < 0) return true;
  }
}

// `v !== v` keeps a NaN once seen, as the generated loop (and numpy) does
const combine = (op: ReduceOp, a: number, v: number): number =>
  op === 'sum' ? a + v : op === 'max' ? (v > a || v !== v ? v : a) : (v < a || v !== v ? v : a);

function runOf(op: ReduceOp, x: Buf, o: number, n: number): number {
  const end = o + n - (n % 4);
  if (op === 'sum') {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let i = o; i < end; i += 4) { s0 += x[i]; s1 += x[i + 1]; s2 += x[i + 2]; s3 += x[i + 3]; }
    for (let i = end; i < o + n; i++) s0 += x[i];
    return (s0 + s1) + (s2 + s3);
  }
  let m = x[o];
  for (let i = o + 1; i < o + n; i++) m = combine(op, m, x[i]);
  return m;
}

function addRow(op: ReduceOp, x: Buf, xo: number, acc: Buf, ao: number, n: number): void {
  if (op === 'sum') {
    const end = n - (n % 4);
    for (let j = 0; j < end; j += 4) {
      acc[ao + j] += x[xo + j]; acc[ao + j + 1] += x[xo + j + 1];
      acc[ao + j + 2] += x[xo + j + 2]; acc[ao + j + 3] += x[xo + j + 3];
    }
    for (let j = end; j < n; j++) acc[ao + j] += x[xo + j];
    return;
  }
  for (let j = 0; j < n; j++) acc[ao + j] = combine(op, acc[ao + j], x[xo + j]);
}

/** acc[ao + j] += x[xo + j] + x[xo + s + j] + ... over four rows `s` apart: one accumulator load and store per four elements. */
function addRows4(x: Buf, xo: number, s: number, acc: Buf, ao: number, n: number): void {
  for (let j = 0; j < n; j++) {
    const a = xo + j;
    acc[ao + j] += (x[a] + x[a + s]) + (x[a + 2 * s] + x[a + 3 * s]);
  }
}
