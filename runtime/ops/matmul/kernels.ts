// matmul on arrays, no graph: transposes as strided views, then the device's kernel.

import { deviceOf, kernelFor, type DeviceKernels } from '../../array/backend.js';
import type { DType, NDArray } from '../../array/ndarray.js';
import { resultDtype } from '../../array/xp.js';
import { matmulCpu } from './cpu.js';
import { matmulWebgpu } from './webgpu.js';

const KERNELS: DeviceKernels<(a: NDArray, b: NDArray, dtype: DType) => NDArray> = { cpu: matmulCpu, webgpu: matmulWebgpu };

/** Batched matmul with optional transposes of the last two axes (shapes already checked). */
export function matmulArray(a: NDArray, b: NDArray, transA = false, transB = false): NDArray {
  const swap = (x: NDArray) => x.transpose([...x.shape.keys()].map((i, _, all) =>
    i < all.length - 2 ? i : i === all.length - 2 ? all.length - 1 : all.length - 2));
  const device = deviceOf([a, b], 'matmul', ['a', 'b']);
  return kernelFor(KERNELS, device)(transA ? swap(a) : a, transB ? swap(b) : b, resultDtype([a, b], 'matmul'));
}
