// WebGPU entry points: start, inject or release the device, and read the memory counters.

import './backend.js';
import { getDevice, releaseDevice as destroyDevice, useDevice as adoptDevice, type GpuContext } from './device.js';
import { clearBindGroups } from './launch.js';
import { collect, dropPool, memory } from './memory.js';
import { clearPipelines } from './pipelines.js';
import { flush, resetQueue } from './queue.js';

export { memory, collect };

/** Acquire the GPU (once); after this, toGpu() and GPU ops are synchronous to call. */
export async function initWebGpu(): Promise<GpuContext> {
  return getDevice();
}

/** Use a GPU, adapter or device you already have instead of discovering one. */
export async function useDevice(gpu: GPU | GPUAdapter | GPUDevice): Promise<GpuContext> {
  releaseWebGpu();
  return adoptDevice(gpu);
}

/**
 * Finish queued work and destroy the device, so that Node can exit (Dawn keeps the process
 * alive while a device lives). GPU arrays become unusable.
 */
export function releaseWebGpu(): void {
  try {
    flush();
  } catch {
    // no device: nothing queued
  }
  resetQueue();
  clearBindGroups();
  dropPool();
  clearPipelines();
  destroyDevice();
}
