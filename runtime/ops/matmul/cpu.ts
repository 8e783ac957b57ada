// matmul on the CPU: the SIMD WebAssembly GEMM for float32, a packed 4x4 register-tiled JS kernel otherwise.

import { dispatchStats } from '../../array/cpu/kernels.js';
import { wasmEnabled, wasmLinearBackward, wasmMatmul, type LinearGrads } from '../../array/cpu/wasm-matmul.js';
import { NDArray, TYPED, contiguousStrides, sizeOf, type DType } from '../../array/ndarray.js';

type FloatArray = Float32Array | Float64Array;

/**
 * Copy an (rows x k) strided matrix into panels of 4 rows, k-major within a panel
 * (panel[p * 4 + r] = X[4 * block + r, p]), zero-padding the last panel. Packing makes
 * the micro-kernel's loads contiguous whatever the source strides (transposes included).
 */
function pack4(x: FloatArray, off: number, sRow: number, sCol: number, rows: number, k: number, out: FloatArray): void {
  const blocks = Math.ceil(rows / 4);
  for (let blk = 0; blk < blocks; blk++) {
    const base = blk * k * 4;
    for (let r = 0; r < 4; r++) {
      const i = blk * 4 + r;
      if (i >= rows) {
        for (let p = 0; p < k; p++) out[base + p * 4 + r] = 0;
        continue;
      }
      const row = off + i * sRow;
      for (let p = 0; p < k; p++) out[base + p * 4 + r] = x[row + p * sCol];
    }
  }
}

/**
 * C (m x n, row-major at cOff) = A @ B from packed panels. Each 4x4 tile of C lives in
 * sixteen locals across the whole k loop: 8 loads feed 16 multiply-adds and nothing is
 * stored until the end, which is what makes a scalar JS matmul run at a few GFLOP/s.
 */
function gemmPacked(ap: FloatArray, bp: FloatArray, c: FloatArray, cOff: number, m: number, n: number, k: number): void {
  const mb = Math.ceil(m / 4), nb = Math.ceil(n / 4);
  for (let ib = 0; ib < mb; ib++) {
    for (let jb = 0; jb < nb; jb++) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      let pa = ib * k * 4, pb = jb * k * 4;
      for (let p = 0; p < k; p++, pa += 4, pb += 4) {
        const a0 = ap[pa], a1 = ap[pa + 1], a2 = ap[pa + 2], a3 = ap[pa + 3];
        const b0 = bp[pb], b1 = bp[pb + 1], b2 = bp[pb + 2], b3 = bp[pb + 3];
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
      }
      const i0 = ib * 4, j0 = jb * 4;
      if (i0 + 4 <= m && j0 + 4 <= n) {
        let o = cOff + i0 * n + j0;
        c[o] = c00; c[o + 1] = c01; c[o + 2] = c02; c[o + 3] = c03; o += n;
        c[o] = c10; c[o + 1] = c11; c[o + 2] = c12; c[o + 3] = c13; o += n;
        c[o] = c20; c[o + 1] = c21; c[o + 2] = c22; c[o + 3] = c23; o += n;
        c[o] = c30; c[o + 1] = c31; c[o + 2] = c32; c[o + 3] = c33;
      } else {
        const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let r = 0; r < 4 && i0 + r < m; r++) {
          for (let q = 0; q < 4 && j0 + q < n; q++) c[cOff + (i0 + r) * n + j0 + q] = tile[r * 4 + q];
        }
      }
    }
  }
}

/**
 * linear's epilogue: add bias (n,) to every row of the fresh, contiguous C, in the same
 * kernel call (no second dispatch, no temporary), while C is still in cache.
 */
function addRows(c: NDArray, bias: NDArray, relu: boolean): NDArray {
  const out = c.buffer as FloatArray, bb = bias.buffer as FloatArray;
  const n = bias.shape[0], s = bias.strides[0], o = bias.offset;
  if (n === 0) return c;
  const row = new (out instanceof Float64Array ? Float64Array : Float32Array)(n);
  for (let j = 0; j < n; j++) row[j] = bb[o + j * s];
  for (let base = c.offset; base < c.offset + c.size; base += n) {
    if (!relu) for (let j = 0; j < n; j++) out[base + j] += row[j];
    // F.relu's select(v <= 0, 0, v): a NaN stays NaN
    else for (let j = 0; j < n; j++) { const v = out[base + j] + row[j]; out[base + j] = v <= 0 ? 0 : v; }
  }
  return c;
}

/**
 * Batched matmul over the leading dims (already equal): a (..., m, k), b (..., k, n) as
 * views, transposes expressed by their strides (packing absorbs them). With `bias` (n,),
 * of the result's dtype, C = a @ b + bias, then relu(C) when `relu`.
 */
export function matmulCpu(a: NDArray, b: NDArray, dtype: DType, bias?: NDArray, relu = false): NDArray {
  // float32 runs the SIMD WebAssembly kernel; float64 (gradient checks) and engines
  // without SIMD (or KUSARI_NO_WASM=1, setWasm(false)) run the JS kernel below
  if (dtype === 'float32' && a.buffer instanceof Float32Array && b.buffer instanceof Float32Array && wasmEnabled()) {
    // the bias and relu in wasm too, on C before its copy out (a float32 bias: biasEpilogueFits)
    const wasmBias = bias !== undefined && bias.buffer instanceof Float32Array;
    const y = wasmMatmul(a, b, undefined, wasmBias ? bias : undefined, relu); // undefined when too big for a WebAssembly memory
    if (y !== undefined) {
      dispatchStats.count++;
      return bias === undefined || wasmBias ? y : addRows(y, bias, relu);
    }
  }
  const r = a.ndim;
  const m = a.shape[r - 2], k = a.shape[r - 1], n = b.shape[r - 1];
  const batch = a.shape.slice(0, r - 2);
  const outShape = [...batch, m, n];
  const out = new NDArray(new TYPED[dtype](sizeOf(outShape)), outShape);
  dispatchStats.count++;
  const Packed = dtype === 'float64' ? Float64Array : Float32Array;
  const ap = new Packed(Math.ceil(m / 4) * 4 * k), bp = new Packed(Math.ceil(n / 4) * 4 * k);
  const nb = sizeOf(batch);
  const bStrides = contiguousStrides(batch);
  for (let t = 0; t < nb; t++) {
    let ao = a.offset, bo = b.offset;
    for (let d = 0; d < batch.length; d++) {
      const idx = Math.floor(t / bStrides[d]) % batch[d];
      ao += idx * a.strides[d];
      bo += idx * b.strides[d];
    }
    pack4(a.buffer as FloatArray, ao, a.strides[r - 2], a.strides[r - 1], m, k, ap);
    // B^T's rows are B's columns: pack B as (n x k) with its strides swapped
    pack4(b.buffer as FloatArray, bo, b.strides[r - 1], b.strides[r - 2], n, k, bp);
    gemmPacked(ap, bp, out.buffer as FloatArray, t * m * n, m, n, k);
  }
  return bias === undefined ? out : addRows(out, bias, relu);
}

/**
 * linear's backward as ONE kernel where the WebAssembly GEMM runs (float32): the relu mask
 * (from the output `y` when given), the bias gradient and both products over one staged copy
 * of gy, instead of a mask kernel, two matmuls and a sum. undefined where it does not apply
 * (the caller composes the ops: float64, no SIMD, a transposed gy, an empty dimension).
 */
export function linearBackwardCpu(gy: NDArray, y: NDArray | undefined, x: NDArray, W: NDArray, want: { gx: boolean; gW: boolean; gb: boolean }): LinearGrads | undefined {
  const f32 = (a: NDArray) => a.dtype === 'float32' && a.buffer instanceof Float32Array;
  if (!f32(gy) || !f32(x) || !f32(W) || (y !== undefined && !f32(y)) || !wasmEnabled()) return undefined;
  const grads = wasmLinearBackward(gy, y, x, W, want);
  if (grads !== undefined) dispatchStats.count++;
  return grads;
}
