// matmul on arrays, no graph: transposes as strided views, then the device's kernel.

import { deviceOf, kernelFor, type DeviceKernels } from '../../array/backend.js';
import type { DType, NDArray } from '../../array/ndarray.js';
import { reduce, resultDtype } from '../../array/xp.js';
import { linearBackwardCpu, matmulCpu } from './cpu.js';
import type { LinearGrads } from '../../array/cpu/wasm-matmul.js';
import { biasEpilogueFits as gpuBiasFits, matmulSumWebgpu, matmulWebgpu } from './webgpu.js';

const KERNELS: DeviceKernels<(a: NDArray, b: NDArray, dtype: DType, bias?: NDArray, relu?: boolean) => NDArray> = { cpu: matmulCpu, webgpu: matmulWebgpu };

/**
 * Batched matmul with optional transposes of the last two axes (shapes already checked).
 * `bias` (n,) is added to every row in the same kernel (linear's epilogue), then relu when
 * `relu`: pass a bias only where biasEpilogueFits says the device's kernel can take it.
 */
export function matmulArray(a: NDArray, b: NDArray, transA = false, transB = false, bias?: NDArray, relu = false): NDArray {
  const swap = (x: NDArray) => x.transpose([...x.shape.keys()].map((i, _, all) =>
    i < all.length - 2 ? i : i === all.length - 2 ? all.length - 1 : all.length - 2));
  const device = deviceOf([a, b], 'matmul', ['a', 'b']);
  return kernelFor(KERNELS, device)(transA ? swap(a) : a, transB ? swap(b) : b, resultDtype([a, b], 'matmul'), bias, relu);
}

/** Whether `device`'s matmul kernel can add `bias` (n,) as it stores (same dtype as the product; on WebGPU, readable as it stores). */
export function biasEpilogueFits(bias: NDArray, n: number, dtype: DType): boolean {
  if (bias.dtype !== dtype || bias.ndim !== 1 || bias.shape[0] !== n) return false;
  return bias.device === 'cpu' ? true : bias.device === 'webgpu' ? gpuBiasFits(bias, n) : false;
}

const SUM_KERNELS: DeviceKernels<(a: NDArray, b: NDArray, dtype: DType) => NDArray> = {
  cpu: (a, b, dtype) => reduce('sum', matmulCpu(a, b, dtype), [0]),
  webgpu: (a, b) => matmulSumWebgpu(a, b),
};

/**
 * sum over the first axis of op(a) @ op(b), a (z, ..., m, k) and b (z, ..., k, n) with equal
 * leading dims (shapes already checked): on WebGPU one kernel adding the z products in registers.
 */
export function matmulSumArray(a: NDArray, b: NDArray, transA = false, transB = false): NDArray {
  const swap = (x: NDArray) => x.transpose([...x.shape.keys()].map((i, _, all) =>
    i < all.length - 2 ? i : i === all.length - 2 ? all.length - 1 : all.length - 2));
  const device = deviceOf([a, b], 'matmul', ['a', 'b']);
  return kernelFor(SUM_KERNELS, device)(transA ? swap(a) : a, transB ? swap(b) : b, resultDtype([a, b], 'matmul'));
}

/**
 * linear's gradients gx = g W, gW = g^T x, gb = sum of g's rows (g = gy, or gy where y > 0 for
 * the relu epilogue's output y) as one kernel, each where `want` asks for it; undefined where
 * the device has no such kernel for these arrays (the caller composes mask, matmuls and sum).
 */
export function linearBackwardArrays(gy: NDArray, y: NDArray | undefined, x: NDArray, W: NDArray, want: { gx: boolean; gW: boolean; gb: boolean }): LinearGrads | undefined {
  return gy.device === 'cpu' ? linearBackwardCpu(gy, y, x, W, want) : undefined;
}
