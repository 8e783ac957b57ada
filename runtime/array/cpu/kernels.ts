// CPU kernels on typed arrays: generated elementwise/reduction loops and hand-written matmul.

import type { Expr } from '../../../compiler/expr.js';
import { collapse, compileLoop, renderLoop, type LoopFn, type ReduceOp } from '../../../compiler/js.js';
import { NDArray, TYPED, contiguousStrides, type DType } from '../ndarray.js';

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
  const results: readonly NDArray[] = outs ?? roots.map(() => new NDArray(new TYPED[dtype](shapeSize(shape)), shape));
  const operands = [...inputs.map((x) => x.broadcastTo(shape)), ...results];
  const layout = collapse({
    shape: shape.slice(),
    strides: operands.map((a) => a.strides.slice()),
    offsets: operands.map((a) => a.offset),
  });
  const fn = loopFor(roots, inputs.length, layout.shape.length, 'store', () =>
    renderLoop(roots, inputs.length, layout.shape.length, { kind: 'store' }));
  dispatchStats.count++;
  fn(operands.map((a) => a.buffer), scalars, layout.shape, layout.strides, layout.offsets);
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
  const acc = new NDArray(new TYPED[accDtype](shapeSize(outShape)).fill(INIT[op]), outShape);
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
  if (shapeSize(shape) > 0) fn([...operands.map((a) => a.buffer), acc.buffer], scalars, layout.shape, layout.strides, layout.offsets);
  if (accDtype === dtype) return acc;
  return new NDArray(new TYPED[dtype](acc.buffer), outShape);
}

/** Index of the max (or min) along `axis`; first one wins on ties, as in numpy. */
export function argReduce(kind: 'argmax' | 'argmin', x: NDArray, axis: number): NDArray {
  const outShape = x.shape.filter((_, d) => d !== axis);
  const out = new Int32Array(shapeSize(outShape));
  const n = x.shape[axis], step = x.strides[axis];
  const others = x.shape.map((_, d) => d).filter((d) => d !== axis);
  const better = kind === 'argmax' ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
  let o = 0;
  const walk = (i: number, p: number) => {
    if (i === others.length) {
      let best = 0, bv = x.buffer[p];
      for (let j = 1; j < n; j++) {
        const v = x.buffer[p + j * step];
        if (better(v, bv)) { bv = v; best = j; }
      }
      out[o++] = best;
      return;
    }
    const d = others[i];
    for (let j = 0; j < x.shape[d]; j++) walk(i + 1, p + j * x.strides[d]);
  };
  walk(0, x.offset);
  return new NDArray(out, outShape);
}

/**
 * C = op(A) @ op(B) for 2-D views, accumulating into a fresh contiguous array. The loop is
 * i-k-j over four rows of C at once, so each row of B loaded from cache feeds four FMAs and
 * the inner loop walks B and C contiguously (B is copied to row-major first if needed).
 */
function matmul2d(
  a: Float32Array | Float64Array, aOff: number, as0: number, as1: number,
  b: Float32Array | Float64Array, n: number,
  c: Float32Array | Float64Array, cOff: number,
  m: number, k: number,
): void {
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const c0 = cOff + i * n, c1 = c0 + n, c2 = c1 + n, c3 = c2 + n;
    const r0 = aOff + i * as0, r1 = r0 + as0, r2 = r1 + as0, r3 = r2 + as0;
    for (let p = 0; p < k; p++) {
      const a0 = a[r0 + p * as1], a1 = a[r1 + p * as1], a2 = a[r2 + p * as1], a3 = a[r3 + p * as1];
      const bp = p * n;
      for (let j = 0; j < n; j++) {
        const bv = b[bp + j];
        c[c0 + j] += a0 * bv;
        c[c1 + j] += a1 * bv;
        c[c2 + j] += a2 * bv;
        c[c3 + j] += a3 * bv;
      }
    }
  }
  for (; i < m; i++) {
    const c0 = cOff + i * n, r0 = aOff + i * as0;
    for (let p = 0; p < k; p++) {
      const a0 = a[r0 + p * as1];
      const bp = p * n;
      for (let j = 0; j < n; j++) c[c0 + j] += a0 * b[bp + j];
    }
  }
}

/**
 * Batched matmul over the leading dims (already equal): a (..., m, k), b (..., k, n) as
 * views, transposes expressed by their strides.
 */
export function matmul(a: NDArray, b: NDArray, dtype: DType): NDArray {
  const r = a.ndim;
  const m = a.shape[r - 2], k = a.shape[r - 1], n = b.shape[r - 1];
  const batch = a.shape.slice(0, r - 2);
  const outShape = [...batch, m, n];
  const out = new NDArray(new TYPED[dtype](shapeSize(outShape)), outShape);
  dispatchStats.count++;
  const nb = shapeSize(batch);
  const bStrides = contiguousStrides(batch);
  for (let t = 0; t < nb; t++) {
    let ao = a.offset, bo = b.offset;
    for (let d = 0; d < batch.length; d++) {
      const idx = Math.floor(t / bStrides[d]) % batch[d];
      ao += idx * a.strides[d];
      bo += idx * b.strides[d];
    }
    // B's rows must be contiguous for the inner loop; copy when they are not.
    let bb = b.buffer as Float32Array, bOff = bo;
    if (b.strides[r - 1] !== 1 || b.strides[r - 2] !== n) {
      const sub = new NDArray(b.buffer, [k, n], [b.strides[r - 2], b.strides[r - 1]], bo).toFlat();
      bb = sub as Float32Array;
      bOff = 0;
    }
    const bRows = bOff === 0 ? bb : bb.subarray(bOff, bOff + k * n);
    matmul2d(a.buffer as Float32Array, ao, a.strides[r - 2], a.strides[r - 1], bRows, n,
      out.buffer as Float32Array, t * m * n, m, k);
  }
  return out;
}

/** y[i, ...] = x[i, t[i, ...], ...] along axis 1 (Chainer's select_item, generalised). */
export function selectItem(x: NDArray, t: NDArray): NDArray {
  const [n, c] = x.shape;
  const out = new TYPED[x.dtype](n);
  const tv = t.toFlat();
  for (let i = 0; i < n; i++) {
    const j = tv[i];
    out[i] = j >= 0 && j < c ? x.buffer[x.offset + i * x.strides[0] + j * x.strides[1]] : 0;
  }
  return new NDArray(out, [n]);
}

/** The adjoint of selectItem: zeros of `shape` with gy[i] placed at [i, t[i]]. */
export function scatterItem(gy: NDArray, t: NDArray, shape: readonly number[]): NDArray {
  const [n, c] = shape;
  const out = new TYPED[gy.dtype](n * c);
  const tv = t.toFlat(), g = gy.toFlat();
  for (let i = 0; i < n; i++) {
    const j = tv[i];
    if (j >= 0 && j < c) out[i * c + j] = g[i];
  }
  return new NDArray(out, shape);
}

/** Write `src` (broadcast) into the view `dst`, in place. */
export function assign(dst: NDArray, src: NDArray, copy: Expr): void {
  elementwise([copy], [src], [], dst.shape, dst.dtype, [dst]);
}

export const shapeSize = (shape: readonly number[]): number => shape.reduce((p, q) => p * q, 1);
