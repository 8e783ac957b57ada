// Compute pipelines, compiled once per kernel name (names end in a content hash of the source).

import { currentDevice } from './device.js';

const cache = new Map<string, GPUComputePipeline>();
const layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
let compileError: string | null = null;

/**
 * The pipeline for `source`. Compilation errors surface asynchronously in WebGPU, so they
 * are collected and thrown by the next use of the device (see checkErrors) with the
 * kernel's name and the compiler's message.
 */
export function pipeline(name: string, source: string): GPUComputePipeline {
  checkErrors();
  // Keyed by name, not source: kernel names carry a hash of their source, and hashing a
  // few kilobytes of freshly built source text on every dispatch cost ~80 us a launch.
  let p = cache.get(name);
  if (p === undefined) {
    const { device } = currentDevice();
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: source, label: name });
    p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: name });
    device.popErrorScope().then(async (err) => {
      if (err === null) return;
      const info = await module.getCompilationInfo();
      const where = info.messages.map((m) => `line ${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
      compileError = `webgpu: kernel ${name} failed to compile: ${where || err.message}`;
    });
    cache.set(name, p);
  }
  return p;
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

export function clearPipelines(): void { cache.clear(); }

/** How many distinct pipelines exist (tests count kernels with it). */
export const pipelineCount = (): number => cache.size;
