// Command batching: dispatches are recorded into one encoder and submitted together.

import { dispatchStats } from '../backend.js';
import { currentDevice } from './device.js';
import { quietly } from './wait.js';

// Submitting every few dispatches lets the GPU (on lavapipe: the other core) start on a step
// while JS is still recording the rest of it; a whole step per submit left it idle for the
// ~8 ms of recording (measured: 256 per batch 32-39 ms per small-MLP step, 8 per batch 20-30).
// One submit per op would pay the submit cost every time (~70 against ~35 us a dispatch).
const MAX_BATCH = 8;

/** Dispatches recorded and command buffers submitted so far (benchmarks and tests read them). */
export const queueStats = { dispatches: 0, submits: 0, paramWrites: 0 };

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
// What the GPU's arena holds from the last write: a step that repeats the last one's
// parameters (one kernel a step, as B3) needs no write, which costs a submit ~25%.
const arenaWritten = new Uint8Array(ARENA_BYTES);
let arenaWrittenUsed = 0;

/** Write this batch's parameters, unless the arena already holds exactly these bytes. */
function writeArena(queue: GPUQueue): void {
  if (arenaUsed <= arenaWrittenUsed && sameWords(arenaUsed / 4)) return;
  queue.writeBuffer(arena!, 0, arenaHost, 0, arenaUsed);
  queueStats.paramWrites++;
  arenaWritten.set(arenaHost.subarray(0, arenaUsed));
  arenaWrittenUsed = arenaUsed;
}

const hostWords = new Int32Array(arenaHost.buffer), writtenWords = new Int32Array(arenaWritten.buffer);
function sameWords(n: number): boolean {
  for (let i = 0; i < n; i++) if (hostWords[i] !== writtenWords[i]) return false;
  return true;
}

/** Room in this batch's uniform buffer for a kernel's parameters. */
export function uniform(data: ArrayBuffer): GPUBufferBinding {
  const size = Math.ceil(Math.max(data.byteLength, 16) / SLOT) * SLOT;
  if (size > ARENA_BYTES) throw new Error(`webgpu: kernel parameters of ${data.byteLength} bytes exceed the ${ARENA_BYTES}-byte uniform arena`);
  if (arenaUsed + size > ARENA_BYTES) submit();
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

/** A recorded dispatch, as `dispatch` returns it: what `withdraw` takes (compared by identity). */
export type DispatchToken = { readonly dispatch: true };

// The last dispatch waits outside the encoder until the next queue operation, so that a kernel
// doing its work and more may take its place (withdraw): a fused node's backward, coming right
// after its forward, runs both as one kernel (runtime/ops/elementwise.ts). Holding one
// closure back changes no order: every queue operation records it first.
type Recorder = () => { pipeline: GPUComputePipeline; bindGroup: GPUBindGroup };
type Workgroups = readonly [number, number, number];
// the held dispatch's parts, not a closure over them: one dispatch a kernel launch, so
// the allocation and (under tsx) the name a closure gets cost per launch
let held: { token: DispatchToken; record: Recorder; workgroups: Workgroups } | null = null;

function release(): void {
  if (held === null) return;
  const { record, workgroups } = held;
  held = null;
  recordDispatch(record, workgroups);
}

function recordDispatch(record: Recorder, workgroups: Workgroups): void {
  const { pipeline: p, bindGroup } = record();
  pass ??= currentEncoder().beginComputePass();
  pass.setPipeline(p);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
  if (++recorded >= MAX_BATCH) submit();
}

/**
 * Record one compute dispatch; it runs at the next flush. `record` gets the pipeline and
 * binds it: it runs now, or, when `pipeline` is still being created in the background (see
 * inOrder), once it exists. Counted now either way, so counts around a step stay exact.
 */
export function dispatch(record: Recorder, workgroups: Workgroups, pipeline?: Promise<unknown>): DispatchToken {
  queueStats.dispatches++;
  dispatchStats.count++;
  const token: DispatchToken = { dispatch: true };
  if (backlog === null && pipeline === undefined && replayError === null) {
    release();
    held = { token, record, workgroups };
  } else {
    inOrder(() => recordDispatch(record, workgroups), pipeline);
  }
  return token;
}

/**
 * Take back the dispatch `token` names, unrun and uncounted: true when it was the last one and
 * nothing has been recorded since (the caller then records a kernel that does its work), false
 * when it is already on its way.
 */
export function withdraw(token: DispatchToken): boolean {
  if (held?.token !== token) return false;
  held = null;
  queueStats.dispatches--;
  dispatchStats.count--;
  return true;
}

/** Record a buffer copy (ends the current compute pass). */
export function copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
  inOrder(() => {
    endPass();
    currentEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  });
}

/** Record zero-filling a range of a buffer. */
export function clearBuffer(buffer: GPUBuffer, offset: number, bytes: number): void {
  inOrder(() => {
    endPass();
    currentEncoder().clearBuffer(buffer, offset, bytes);
  });
}

/**
 * Write host data into a buffer, after everything recorded before (queue.writeBuffer alone
 * would overtake recorded work that still reads a recycled buffer). Copies `data` when the
 * write has to wait, so the caller may reuse it at once.
 */
export function writeBuffer(buffer: GPUBuffer, data: ArrayBufferView<ArrayBuffer>): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const copy = backlog === null ? bytes : bytes.slice();
  inOrder(() => {
    submit();
    currentDevice().device.queue.writeBuffer(buffer, 0, copy.buffer, copy.byteOffset, copy.byteLength);
  });
}

// A dispatch whose pipeline is still being created with createComputePipelineAsync (declared
// kernels start theirs in the background, runtime/fusion/background.ts) waits for it rather
// than compiling it a second time synchronously, which on lavapipe costs the main thread
// tens of milliseconds a pipeline. Recording is synchronous, so waiting means: from that
// dispatch on, every queue operation is kept in order in `backlog` and replayed once the
// pipelines it waits for exist; readBuffer waits for the replay.
let backlog: (() => void)[] | null = null;
let gates: Promise<unknown>[] = [];
let replayed: Promise<void> | null = null;
/** An error thrown while replaying (a dispatch whose pipeline failed to compile): thrown by the next queue use. */
let replayError: unknown = null;

function inOrder(op: () => void, gate?: Promise<unknown>): void {
  release();
  if (replayError !== null) {
    const e = replayError;
    replayError = null;
    throw e;
  }
  if (backlog === null && gate === undefined) {
    op();
    return;
  }
  // a failed creation is not an error here: the replayed dispatch compiles synchronously, and that reports it
  if (gate !== undefined) gates.push(gate.catch(() => undefined));
  if (backlog === null) {
    submit(); // what was recorded before goes first
    backlog = [];
    replayed = replay(backlog);
  }
  backlog.push(op);
}

async function replay(ops: (() => void)[]): Promise<void> {
  // the gates of dispatches recorded while waiting join the wait
  while (gates.length > 0) {
    // released meanwhile: the gates now are the next device's backlog's, not this one's to take
    // (taking them let that backlog replay before its pipelines existed: compiled on demand)
    if (backlog !== ops) return;
    const waiting = gates;
    gates = [];
    await Promise.all(waiting);
  }
  // the device was released meanwhile (resetQueue), and the work dropped with it
  if (backlog !== ops) return;
  backlog = null;
  replayed = null;
  try {
    for (const op of ops) op();
  } catch (e) {
    replayError = e;
  }
}

/**
 * Resolves once work waiting for background pipelines has been recorded (at once when none
 * waits): after it, flush() and the queue's onSubmittedWorkDone() cover everything.
 */
export async function settled(): Promise<void> {
  if (replayed !== null) await replayed;
  if (replayError !== null) {
    const e = replayError;
    replayError = null;
    throw e;
  }
}

function endPass(): void {
  pass?.end();
  pass = null;
}

/** Submit everything recorded so far (or, while dispatches wait for pipelines, once they have been recorded). */
export function flush(): void {
  inOrder(submit);
}

function submit(): void {
  if (encoder === null) return;
  endPass();
  const { queue } = currentDevice().device;
  if (arenaUsed > 0) writeArena(queue);
  queue.submit([encoder.finish()]);
  queueStats.submits++;
  encoder = null;
  recorded = 0;
  arenaUsed = 0;
}

/** Forget recorded work (the device is gone). */
export function resetQueue(): void {
  // work waiting for pipelines is dropped with the device it was meant for
  backlog = null;
  gates = [];
  replayError = null;
  held = null;
  encoder = null;
  pass = null;
  recorded = 0;
  arena = null;
  arenaUsed = 0;
  arenaWrittenUsed = 0;
}

/** Copy `bytes` at `offset` of `buffer` to the host once all recorded work has run. */
export async function readBuffer(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
  const size = Math.ceil(bytes / 4) * 4, stagingSize = Math.max(size, 4);
  const { device } = currentDevice();
  const staging = takeStaging(device, stagingSize);
  copyBuffer(buffer, offset, staging, 0, size);
  flush();
  await settled();
  try {
    await quietly(staging.mapAsync(GPUMapMode.READ));
    const data = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    giveStaging(device, staging, stagingSize);
    return data;
  } catch (e) {
    staging.destroy();
    throw new Error(tryLost() ?? `webgpu: reading back ${bytes} bytes failed: ${(e as Error).message}`);
  }
}

// Staging buffers of finished reads, by device and size, for the next read of that size: a
// training loop reads its loss (item()) every step, and a fresh buffer per read cost a
// createBuffer and a destroy. Small ones only, a few per size: a large read is rare and its
// buffer large. By device (weakly): a read that ends after releaseWebGpu() must not hand its
// buffer to the next device.
const STAGING_KEPT_BYTES = 1 << 20, STAGING_PER_SIZE = 4;
const stagingFree = new WeakMap<GPUDevice, Map<number, GPUBuffer[]>>();

function takeStaging(device: GPUDevice, size: number): GPUBuffer {
  return stagingFree.get(device)?.get(size)?.pop()
    ?? device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
}

function giveStaging(device: GPUDevice, staging: GPUBuffer, size: number): void {
  let sizes = stagingFree.get(device);
  if (sizes === undefined) stagingFree.set(device, (sizes = new Map()));
  let list = sizes.get(size);
  if (list === undefined && size <= STAGING_KEPT_BYTES) sizes.set(size, (list = []));
  if (list !== undefined && list.length < STAGING_PER_SIZE) list.push(staging);
  else staging.destroy();
}

function tryLost(): string | null {
  try {
    currentDevice();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
