// Launching a kernel: fresh arrays, the kernel cache, and binding operands into a recorded dispatch.

import { dispatchSize, packParams, type WgslKernel } from '../../../compiler/wgsl.js';
import { NDArray, sizeOf, type DType } from '../ndarray.js';
import { currentDevice } from './device.js';
import { MAX_GROUPS } from './kernel.js';
import { GpuStorage, allocate } from './memory.js';
import { layoutOf, pipeline, pipelineInFlight } from './pipelines.js';
import { dispatch, uniform, type DispatchToken } from './queue.js';

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
export function launchGrid(kernel: WgslKernel, operands: readonly NDArray[], params: ArrayBuffer, groups: readonly [number, number, number]): DispatchToken {
  // buffers now, so a released array fails at the op that used it, even when the dispatch waits
  const buffers = kernel.bindings.map((b) => (b.role === 'params' ? null : storageOf(operands[b.binding]).use()));
  const creating = pipelineInFlight(kernel.name);
  return dispatch(() => {
    const p = pipeline(kernel.name, kernel.source);
    const resources = kernel.bindings.map((_, i) => { const buffer = buffers[i]; return buffer === null ? uniform(params) : { buffer }; });
    return { pipeline: p, bindGroup: bindGroup(kernel, p, resources) };
  }, groups, creating);
}

// Bind groups, reused. The pool hands a training loop the same buffers in the same order
// every step, and the uniform arena the same offsets, so a step's bind groups repeat. Making
// a fresh one per dispatch costs time, and a loop that never waits for the GPU exhausted
// lavapipe's descriptor pools after ~65,000 of them (a crash in Dawn, not an error).
const BIND_GROUP_CACHE = 4096;
const bindGroups = new Map<string, GPUBindGroup>();
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 0;

function bindGroup(kernel: WgslKernel, p: GPUComputePipeline, resources: readonly GPUBufferBinding[]): GPUBindGroup {
  let key = kernel.name;
  for (const r of resources) {
    let id = bufferIds.get(r.buffer);
    if (id === undefined) bufferIds.set(r.buffer, (id = nextBufferId++));
    key += `|${id}:${r.offset ?? 0}:${r.size ?? ''}`;
  }
  let g = bindGroups.get(key);
  if (g !== undefined) {
    bindGroups.delete(key); // most recently used last: the oldest go first when full
  } else {
    const entries = kernel.bindings.map((b, i): GPUBindGroupEntry => ({ binding: b.binding, resource: resources[i] }));
    g = currentDevice().device.createBindGroup({ layout: layoutOf(p), entries });
    if (bindGroups.size >= BIND_GROUP_CACHE) bindGroups.delete(bindGroups.keys().next().value!);
  }
  bindGroups.set(key, g);
  return g;
}

/** Forget every bind group (their buffers and pipelines die with the device). */
export function clearBindGroups(): void { bindGroups.clear(); }

/** launchGrid for a 1-D kernel of `invocations` invocations. */
export function launch(kernel: WgslKernel, operands: readonly NDArray[], params: ArrayBuffer, invocations: number): void {
  launchGrid(kernel, operands, params, dispatchSize(invocations, kernel.workgroupSize));
}

/**
 * Launch a kernel over (cells of an image plane, channels, images): the grid's x runs over
 * `cells` in workgroups, y over `ys` channels and z over `zs` images, sliced where y or z
 * passes the per-dimension limit (each slice told its first y0, z0 in the params). The
 * convolution and pooling kernels index this way: a flat index would cost several u32
 * divisions per cell, and on lavapipe a vector division is a scalar division per lane.
 */
export function launchPlanes(op: string, kernel: WgslKernel, operands: readonly NDArray[], values: Record<string, number>, cells: number, ys: number, zs: number): void {
  const wg = kernel.workgroupSize, gx = Math.ceil(cells / wg);
  if (gx > MAX_GROUPS) throw new Error(`${op}: ${cells} cells per image plane exceed WebGPU's grid (${MAX_GROUPS * wg})`);
  for (let z0 = 0; z0 < zs; z0 += MAX_GROUPS) {
    for (let y0 = 0; y0 < ys; y0 += MAX_GROUPS) {
      launchGrid(kernel, operands, packParams(kernel, { ...values, y0, z0 }), [gx, Math.min(MAX_GROUPS, ys - y0), Math.min(MAX_GROUPS, zs - z0)]);
    }
  }
}
