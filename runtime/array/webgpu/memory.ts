// GPU memory: a size-bucketed buffer pool; buffers return to it when their arrays are garbage.

import type { MemoryHooks } from '../backend.js';
import type { DType, DeviceStorage } from '../ndarray.js';
import { currentDevice, liveContext, type GpuContext } from './device.js';

const USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * Round a request up to its bucket: powers of two and the midpoints between them, so a
 * pooled buffer wastes at most a third of itself and shapes that vary a little share buckets.
 */
export function bucketSize(bytes: number): number {
  const b = Math.max(256, bytes);
  const p = 2 ** Math.floor(Math.log2(b));
  if (b === p) return p;
  return b <= p * 1.5 ? p * 1.5 : p * 2;
}

/** Device memory behind a GPU NDArray; shared by all views of it. */
export class GpuStorage implements DeviceStorage {
  readonly device = 'webgpu' as const;
  /** Set to who gave the buffer back early (scope() at its exit); any later use is an error. */
  released: string | null = null;
  /** Long-lived state (parameters, optimizer moments): never given back early by a scope. */
  pinned = false;
  /** Recorded by a scope still running, which holds it: no collection can return it before the scope ends. */
  scoped = false;

  constructor(
    readonly buffer: GPUBuffer, readonly dtype: DType, readonly length: number, readonly bytes: number,
    /** The device the buffer belongs to: after releaseWebGpu() it is gone, and so is the buffer. */
    readonly context: GpuContext,
  ) {}

  /** The buffer, or a clear error if a scope released it or its device is gone. */
  use(): GPUBuffer {
    if (this.released !== null) {
      const keep = this.released === 'scope()' ? 'return it from the scope to keep it' : 'return it as the loss or store it on the model to keep it; copy a gradient to keep it past the next update';
      throw new Error(`webgpu: this array was released by ${this.released} and can no longer be used; ${keep}`);
    }
    if (this.context !== liveContext()) {
      // its buffer was destroyed with its device: reading it would give Dawn errors and zeros
      throw new Error(`webgpu: this array lives on the device ${describe(this.context)}, which releaseWebGpu() released; arrays do not move to a new device: copy it to the CPU (await x.toCpu()) before releasing, and upload it again after initWebGpu()`);
    }
    return this.buffer;
  }
}

interface PoolStats {
  /** bytes of arrays alive now */
  inUse: number;
  /** bytes of free buffers kept for reuse */
  pooled: number;
  /** buffers created on the device so far */
  created: number;
}

const describe = (ctx: GpuContext): string => `'${ctx.adapterName || 'unnamed adapter'}'`;

const free = new Map<number, GPUBuffer[]>();
const stats: PoolStats = { inUse: 0, pooled: 0, created: 0 };
/** The device whose buffers the pool and the counters hold; null after releaseWebGpu(). */
let poolContext: GpuContext | null = null;

// When an array is garbage, its buffer goes back to the pool. Commands already recorded
// that use it run before any later command can write it again: the queue is in order.
const registry = new FinalizationRegistry<{ buffer: GPUBuffer; bytes: number; context: GpuContext } | { sentinel: () => void }>((held) => {
  yielded = true;
  if ('sentinel' in held) held.sentinel();
  else giveBack(held.buffer, held.bytes, held.context);
});

function giveBack(buffer: GPUBuffer, bytes: number, context: GpuContext): void {
  // A buffer of a released device was destroyed with it and is no longer counted: it must
  // neither enter this device's pool nor be subtracted from its bytes in use.
  if (context !== poolContext) return;
  stats.inUse -= bytes;
  // the live estimate follows bytes in use down as garbage comes back (see collectIfGrowing)
  if (collectable() < liveAfterLastGc) liveAfterLastGc = collectable();
  stats.pooled += bytes;
  let list = free.get(bytes);
  if (list === undefined) free.set(bytes, (list = []));
  list.push(buffer);
}

/** A buffer of at least `elements` 4-byte elements, from the pool when one is free. */
export function allocate(elements: number, dtype: DType): GpuStorage {
  if (dtype === 'float64') throw new Error('webgpu: float64 arrays are not supported on the GPU (WGSL has no f64); cast to float32 first');
  const context = currentDevice();
  const { device, limits } = context;
  if (context !== poolContext) startPool(context);
  const bytes = bucketSize(elements * 4);
  if (bytes > limits.maxStorageBufferBindingSize || bytes > limits.maxBufferSize) {
    throw new Error(`webgpu: an array of ${elements} elements (${bytes} bytes) exceeds the device's largest buffer (${Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize)} bytes)`);
  }
  // an array made inside a scope is the scope's to give back, not the collector's
  collectIfGrowing(trackers.length > 0 ? 0 : bytes);
  let buffer = free.get(bytes)?.pop();
  if (buffer !== undefined) {
    stats.pooled -= bytes;
  } else {
    buffer = device.createBuffer({ size: bytes, usage: USAGE() });
    stats.created++;
  }
  stats.inUse += bytes;
  const storage = new GpuStorage(buffer, dtype, elements, bytes, context);
  registry.register(storage, { buffer, bytes, context }, storage);
  if (trackers.length > 0) {
    storage.scoped = true;
    scopedBytes += bytes;
    for (const t of trackers) t.add(storage);
    if (scopedBytes > scopeHold.warnBytes && !scopeHold.warned) {
      scopeHold.warned = true;
      console.warn(`${SCOPE_HOLD_WARNING} (${Math.round(scopedBytes / 2 ** 20)} MiB held)`);
    }
  }
  return storage;
}

/** @internal The warning a scope holding too much gets (tests assert it). */
export const SCOPE_HOLD_WARNING = 'webgpu: a running scope() or optimizer.update(lossFn) step holds more GPU memory than any one step should: the arrays made inside a scope come back only when it ends, garbage or not. If it wraps a whole loop, put it inside the loop, around one step.';

/**
 * @internal When the arrays that running scopes hold pass `warnBytes`, warn once: the
 * collector cannot help them (a scope holds its arrays), so a scope around a whole loop would
 * otherwise grow in silence. One step of a large model may hold gigabytes, hence the size.
 */
export const scopeHold = { warnBytes: 2 * 2 ** 30, warned: false };

// ---- freeing early ----------------------------------------------------------------------

const trackers: Set<GpuStorage>[] = [];
/** Bytes of the arrays that running scopes hold (see collectIfGrowing). */
let scopedBytes = 0;

/**
 * The device-neutral hooks (backend.ts's MemoryHooks) that the graph, scope() and
 * optimizer.update(lossFn) free early through: recording what a stretch of code allocates,
 * pinning long-lived state, giving a buffer back to the pool before its array is garbage.
 */
export const gpuMemory: MemoryHooks = {
  record() {
    const mine = new Set<GpuStorage>();
    trackers.push(mine);
    return () => {
      const i = trackers.indexOf(mine);
      if (i >= 0) trackers.splice(i, 1);
      // what no enclosing scope holds is the collector's again (until it is released)
      for (const s of mine) if (s.scoped && !trackers.some((t) => t.has(s))) unscope(s);
      return mine;
    };
  },
  pin(storage) {
    if (storage instanceof GpuStorage) storage.pinned = true;
  },
  release(storage, by) {
    if (storage instanceof GpuStorage && !storage.pinned) release(storage, by);
  },
};

/** Give a storage's buffer back now (scope exit), instead of waiting for the GC. */
function release(storage: GpuStorage, by: string): void {
  if (storage.released !== null) return;
  unscope(storage);
  storage.released = by;
  registry.unregister(storage);
  giveBack(storage.buffer, storage.bytes, storage.context);
}

function unscope(storage: GpuStorage): void {
  if (!storage.scoped) return;
  storage.scoped = false;
  // the counter restarted with the pool of a new device: this storage is not in it
  if (storage.context === poolContext) scopedBytes -= storage.bytes;
}

// ---- helping the garbage collector ------------------------------------------------------

// A GPU array's JS object is tiny, so V8 feels no pressure to collect it while gigabytes of
// GPU memory wait on it. When the bytes in use have grown well past what was live after
// the last collection, ask for one: unreachable arrays then return their buffers.
let liveAfterLastGc = 0;
/**
 * Bytes in use that a collection could return: not those of arrays a running scope holds
 * (a scope, a step of optimizer.update(lossFn), a backward pass), which it gives back itself
 * as it ends. Counting them made one large forward inside scope() collect in vain and warn.
 */
const collectable = (): number => stats.inUse - scopedBytes;
/** Growth in bytes in use, beyond twice what was live after the last collection, that triggers one. */
export const GC_SLACK = 64 * 1024 * 1024;
let gc: (() => void) | null | undefined;

// Finalizers run between tasks, so a loop that never yields to the event loop (no await, or
// only awaits of settled promises) gets no buffer back from its garbage however often we
// collect. Growing again with no task run since the last collection means just that: say so,
// once, naming the cures, rather than let the pool grow in silence.
let yielded = true;
let warned = false;

/** @internal The warning a loop that outruns the collector gets (tests assert it). */
export const OUTRUN_WARNING = 'webgpu: GPU memory in use keeps growing and this loop has not yielded to the event loop since the last garbage collection, so the buffers of arrays it dropped cannot come back (they return between tasks). Run each step in scope(() => { ... }) or as optimizer.update(lossFn), which give memory back at once, or await something each step (await loss.item()).';

function collectIfGrowing(incoming: number): void {
  if (collectable() + incoming < 2 * liveAfterLastGc + GC_SLACK) return;
  if (!yielded && !warned) {
    warned = true;
    console.warn(`${OUTRUN_WARNING} (${Math.round(stats.inUse / 2 ** 20)} MiB in use)`);
  }
  const gcNow = findGc();
  if (gcNow === null) return;
  gcNow();
  yielded = false;
  const timer = setTimeout(() => { yielded = true; }, 0) as unknown as { unref?: () => void };
  timer.unref?.();
  // Finalizers run in a later task; until then count everything as live, so that one
  // collection is not followed by another at once. As they return buffers, giveBack lowers
  // the estimate to what is really live: were it left high, each late round of finalizers
  // would raise the next threshold, and the pool would creep upwards run after run.
  liveAfterLastGc = collectable();
}

/**
 * Collect garbage now and let the finalizers return unreachable arrays' buffers; resolves
 * once they have run. Never needed for correctness: for measuring memory, and for a tight
 * loop that wants its memory back before continuing.
 */
export async function collect(): Promise<void> {
  const gcNow = findGc();
  if (gcNow === null) return;
  let before: number;
  do {
    before = stats.inUse;
    // A sentinel dies in the same collection as the garbage, and one cleanup task reports
    // every death: once it has reported, so have they. A fixed number of ticks was not
    // enough on a busy machine, where the cleanup task can come late.
    let reported = false;
    registry.register({}, { sentinel: () => { reported = true; } });
    gcNow();
    for (let i = 0; !reported && i < 200; i++) await new Promise((r) => setTimeout(r, i === 0 ? 0 : 5));
    await new Promise((r) => setTimeout(r, 0));
  } while (stats.inUse < before);
  liveAfterLastGc = collectable();
}

function findGc(): (() => void) | null {
  if (gc !== undefined) return gc;
  gc = (globalThis as { gc?: () => void }).gc ?? null;
  // Node: expose V8's collector without a command-line flag. Browsers collect on their own.
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (gc === null && proc?.versions?.node !== undefined) {
    try {
      const req = (globalThis as { process: { getBuiltinModule?: (m: string) => unknown } }).process.getBuiltinModule;
      const v8 = req?.('node:v8') as { setFlagsFromString(f: string): void } | undefined;
      const vm = req?.('node:vm') as { runInNewContext(code: string): unknown } | undefined;
      if (v8 && vm) {
        v8.setFlagsFromString('--expose-gc');
        gc = vm.runInNewContext('gc') as () => void;
      }
    } catch {
      gc = null;
    }
  }
  return gc;
}

/** GPU memory in bytes: held by live arrays, and kept free in the pool for reuse. */
export function memory(): { inUse: number; pooled: number; buffersCreated: number } {
  return { inUse: stats.inUse, pooled: stats.pooled, buffersCreated: stats.created };
}

/** Destroy every pooled buffer (the device is going away); its arrays are no longer counted. */
export function dropPool(): void {
  for (const list of free.values()) for (const b of list) b.destroy();
  startPool(null);
}

function startPool(context: GpuContext | null): void {
  free.clear();
  stats.pooled = 0;
  stats.inUse = 0;
  liveAfterLastGc = 0;
  scopedBytes = 0;
  poolContext = context;
}

/** @internal The pooled buffers and the device they belong to (tests check that they are usable). */
export function pooledBuffers(): { context: GpuContext | null; buffers: GPUBuffer[] } {
  return { context: poolContext, buffers: [...free.values()].flat() };
}
