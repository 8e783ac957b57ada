// Command batching: dispatches are recorded into one encoder and submitted together.

import { dispatchStats } from '../backend.js';
import { currentDevice } from './device.js';

// Submitting every few dispatches lets the GPU (on lavapipe: the other core) start on a step
// while JS is still recording the rest of it; a whole step per submit left it idle for the
// ~8 ms of recording (measured: 256 per batch 32-39 ms per small-MLP step, 8 per batch 20-30).
// One submit per op would pay the submit cost every time (~70 against ~35 us a dispatch).
const MAX_BATCH = 8;

/** Dispatches recorded and command buffers submitted so far (benchmarks and tests read them). */
export const queueStats = { dispatches: 0, submits: 0 };

let encoder: GPUCommandEncoder | null = null;
let pass: GPUComputePassEncoder | null = null;
let recorded = 0;

// Kernel parameters of one batch live in one uniform buffer, 256-byte slots (the usual
// minUniformBufferOffsetAlignment), written once at flush. The queue runs in order, so the
// next batch's write cannot overtake the commands of this one.
const ARENA_BYTES = 256 * 1024;
const SLOT = 256;
let arena: GPUBuffer | null = null;
const arenaHost = new Uint8Array(ARENA_BYTES);
let arenaUsed = 0;

/** Room in this batch's uniform buffer for a kernel's parameters. */
export function uniform(data: ArrayBuffer): GPUBufferBinding {
  const size = Math.ceil(Math.max(data.byteLength, 16) / SLOT) * SLOT;
  if (size > ARENA_BYTES) throw new Error(`webgpu: kernel parameters of ${data.byteLength} bytes exceed the ${ARENA_BYTES}-byte uniform arena`);
  if (arenaUsed + size > ARENA_BYTES) flush();
  arena ??= currentDevice().device.createBuffer({ size: ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const offset = arenaUsed;
  arenaHost.set(new Uint8Array(data), offset);
  arenaUsed += size;
  return { buffer: arena, offset, size: data.byteLength };
}

function currentEncoder(): GPUCommandEncoder {
  encoder ??= currentDevice().device.createCommandEncoder();
  return encoder;
}

/** Record one compute dispatch; it runs at the next flush. */
export function dispatch(pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, workgroups: readonly [number, number, number]): void {
  pass ??= currentEncoder().beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
  queueStats.dispatches++;
  dispatchStats.count++;
  if (++recorded >= MAX_BATCH) flush();
}

/** Record a buffer copy (ends the current compute pass). */
export function copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
  endPass();
  currentEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
}

/** Record zero-filling a range of a buffer. */
export function clearBuffer(buffer: GPUBuffer, offset: number, bytes: number): void {
  endPass();
  currentEncoder().clearBuffer(buffer, offset, bytes);
}

function endPass(): void {
  pass?.end();
  pass = null;
}

/** Submit everything recorded so far. */
export function flush(): void {
  if (encoder === null) return;
  endPass();
  const { queue } = currentDevice().device;
  if (arenaUsed > 0) queue.writeBuffer(arena!, 0, arenaHost, 0, arenaUsed);
  queue.submit([encoder.finish()]);
  queueStats.submits++;
  encoder = null;
  recorded = 0;
  arenaUsed = 0;
}

/** Forget recorded work (the device is gone). */
export function resetQueue(): void {
  encoder = null;
  pass = null;
  recorded = 0;
  arena = null;
  arenaUsed = 0;
}

/** Copy `bytes` at `offset` of `buffer` to the host once all recorded work has run. */
export async function readBuffer(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
  const { device } = currentDevice();
  const size = Math.ceil(bytes / 4) * 4;
  const staging = device.createBuffer({ size: Math.max(size, 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  copyBuffer(buffer, offset, staging, 0, size);
  flush();
  try {
    await staging.mapAsync(GPUMapMode.READ);
    return staging.getMappedRange(0, size).slice(0, bytes);
  } catch (e) {
    throw new Error(tryLost() ?? `webgpu: reading back ${bytes} bytes failed: ${(e as Error).message}`);
  } finally {
    staging.destroy();
  }
}

function tryLost(): string | null {
  try {
    currentDevice();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
