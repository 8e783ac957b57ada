// Launching a kernel: fresh arrays, the kernel cache, and binding operands into a recorded dispatch.

import { dispatchSize, type WgslKernel } from '../../../compiler/wgsl.js';
import { NDArray, sizeOf, type DType } from '../ndarray.js';
import { currentDevice } from './device.js';
import { GpuStorage, allocate } from './memory.js';
import { layoutOf, pipeline } from './pipelines.js';
import { dispatch, uniform } from './queue.js';

/** The GPU storage behind an array (views included). */
export function storageOf(x: NDArray): GpuStorage {
  if (!(x.storage instanceof GpuStorage)) throw new Error(`webgpu: ${x} is not a GPU array`);
  return x.storage;
}

/** A fresh contiguous GPU array. */
export function empty(shape: readonly number[], dtype: DType): NDArray {
  return new NDArray(allocate(sizeOf(shape), dtype), shape.slice());
}

const kernels = new Map<string, WgslKernel>();

/** The kernel for `key`, rendered once. */
export function cached(key: string, render: () => WgslKernel): WgslKernel {
  let k = kernels.get(key);
  if (k === undefined) kernels.set(key, (k = render()));
  return k;
}

/** Bind `operands` (by binding number) and the params, and record a dispatch of `groups` workgroups. */
export function launchGrid(kernel: WgslKernel, operands: readonly NDArray[], params: ArrayBuffer, groups: readonly [number, number, number]): void {
  const p = pipeline(kernel.name, kernel.source);
  const entries: GPUBindGroupEntry[] = kernel.bindings.map((b) => ({
    binding: b.binding,
    resource: b.role === 'params' ? uniform(params) : { buffer: storageOf(operands[b.binding]).use() },
  }));
  dispatch(p, currentDevice().device.createBindGroup({ layout: layoutOf(p), entries }), groups);
}

/** launchGrid for a 1-D kernel of `invocations` invocations. */
export function launch(kernel: WgslKernel, operands: readonly NDArray[], params: ArrayBuffer, invocations: number): void {
  launchGrid(kernel, operands, params, dispatchSize(invocations, kernel.workgroupSize));
}
