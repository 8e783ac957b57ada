// Compute pipelines, compiled once per kernel name (names end in a 64-bit content hash of the source).

import { currentDevice, liveContext } from './device.js';

interface Entry { pipeline: GPUComputePipeline; source: string }
const cache = new Map<string, Entry>();
const pendingAsync = new Map<string, Promise<boolean>>();
const layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
let compileError: string | null = null;

/**
 * Pipelines created since the process started (never reset, so a test reads the difference
 * around the code it watches). `created` counts all of them, sync or async: proof that a
 * chain's pipelines, made once, serve later calls of any shape. `onDemand` counts those a
 * dispatch had to compile synchronously on the main thread (none had been made ahead), and
 * `awaited` the dispatches that waited for a pipeline still being made in the background
 * rather than compiling it again: a built app's first step should show onDemand 0.
 */
export const pipelineStats = { created: 0, onDemand: 0, awaited: 0 };

/** A cache hit whose source is not the cached one: two kernels whose names collide. */
function checkSame(name: string, entry: Entry, source: string): void {
  // identical strings are one object in the common case (kernels are rendered once), so this is cheap
  if (entry.source !== source) {
    throw new Error(`webgpu: kernel name ${name} is cached with a different source: two kernels hash alike (or a hand-written kernel reuses a name); rename one`);
  }
}

/**
 * The pipeline for `source`. Compilation errors surface asynchronously in WebGPU, so they
 * are collected and thrown by the next use of the device (see checkErrors) with the
 * kernel's name and the compiler's message.
 */
export function pipeline(name: string, source: string): GPUComputePipeline {
  checkErrors();
  // Keyed by name, not source: kernel names carry a hash of their source, and hashing a
  // few kilobytes of freshly built source text on every dispatch cost ~80 us a launch.
  const hit = cache.get(name);
  if (hit !== undefined) {
    checkSame(name, hit, source);
    return hit.pipeline;
  }
  const { device } = currentDevice();
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: source, label: name });
  const p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: name });
  device.popErrorScope().then(async (err) => {
    if (err === null) return;
    const info = await module.getCompilationInfo();
    const where = info.messages.map((m) => `line ${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
    compileError = `webgpu: kernel ${name} failed to compile: ${where || err.message}`;
  });
  cache.set(name, { pipeline: p, source });
  pipelineStats.created++;
  pipelineStats.onDemand++;
  return p;
}

/**
 * The creation of `name`'s pipeline when it is under way in the background (undefined when
 * it exists or was never started): a dispatch waits for it instead of compiling it again.
 */
export function pipelineInFlight(name: string): Promise<boolean> | undefined {
  const made = pendingAsync.get(name);
  if (made !== undefined) pipelineStats.awaited++;
  return made;
}

/**
 * Create the pipeline ahead of use with createComputePipelineAsync (the driver compiles off
 * the main thread); true if it was created now, false if it existed or is being created.
 * A compilation error rejects with the kernel's name and the compiler's messages.
 */
export function pipelineAsync(name: string, source: string): Promise<boolean> {
  const hit = cache.get(name);
  if (hit !== undefined) {
    checkSame(name, hit, source);
    return Promise.resolve(false);
  }
  const pending = pendingAsync.get(name);
  if (pending !== undefined) return pending.then(() => false);
  const { device } = currentDevice();
  const module = device.createShaderModule({ code: source, label: name });
  const made: Promise<boolean> = device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: name }).then(
    (p) => {
      // a pipeline of a device released meanwhile must not enter the next device's cache
      if (pendingAsync.get(name) !== made || liveContext()?.device !== device) return false;
      pendingAsync.delete(name);
      // a synchronous use may have created it meanwhile: keep that one, count only this
      if (cache.has(name)) return false;
      cache.set(name, { pipeline: p, source });
      pipelineStats.created++;
      return true;
    },
    async (e: unknown) => {
      if (pendingAsync.get(name) === made) pendingAsync.delete(name);
      const info = await module.getCompilationInfo();
      const where = info.messages.map((m) => `line ${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
      throw new Error(`webgpu: kernel ${name} failed to compile: ${where || (e as Error).message}`);
    },
  );
  pendingAsync.set(name, made);
  return made;
}

/** The pipeline's bind group layout, fetched once (Dawn makes a new object per call). */
export function layoutOf(p: GPUComputePipeline): GPUBindGroupLayout {
  let l = layouts.get(p);
  if (l === undefined) layouts.set(p, (l = p.getBindGroupLayout(0)));
  return l;
}

/** Throw a compilation error reported since the last call. */
export function checkErrors(): void {
  if (compileError !== null) {
    const e = compileError;
    compileError = null;
    throw new Error(e);
  }
}

export function clearPipelines(): void {
  cache.clear();
  pendingAsync.clear();
}

/** How many distinct pipelines exist (tests count kernels with it). */
export const pipelineCount = (): number => cache.size;
