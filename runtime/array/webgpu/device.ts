// The WebGPU device: found once (Node's `webgpu` package or the browser's navigator.gpu), or injected.

/** What kusari needs of a GPU: the device, its queue and its limits. */
export interface GpuContext {
  readonly device: GPUDevice;
  readonly adapterName: string;
  readonly limits: GPUSupportedLimits;
  /**
   * A fallback adapter (lavapipe, SwiftShader): it runs workgroups on CPU threads, where a
   * few large blocks of work beat many small ones (see the elementwise launch in backend.ts).
   */
  readonly software: boolean;
  /** Set when the device is lost: every later use throws this reason. */
  lost: string | null;
  /**
   * The GPU and adapter the device came from. Held on purpose: if Dawn's instance is
   * garbage-collected while its device lives, the process crashes in Dawn's threads.
   */
  readonly owners: readonly object[];
}

let current: GpuContext | null = null;
let pending: Promise<GpuContext> | null = null;
const listeners: ((ctx: GpuContext) => void)[] = [];

/**
 * Call `fn` with every device kusari acquires or is given from now on (declared kernels
 * start creating their pipelines there). A listener's error is its own business: it must
 * not fail the device's acquisition, so it is caught and printed as a warning.
 */
export function onDevice(fn: (ctx: GpuContext) => void): void {
  listeners.push(fn);
}

function adopt(ctx: GpuContext): GpuContext {
  current = ctx;
  for (const fn of listeners) {
    try {
      fn(ctx);
    } catch (e) {
      console.warn(`webgpu: a device listener failed: ${(e as Error).message}`);
    }
  }
  return ctx;
}

/**
 * Use a GPU you already have: a `GPU` (navigator.gpu or the `webgpu` package's `create()`),
 * an adapter or a device. Replaces any device kusari found by itself.
 */
export async function useDevice(gpu: GPU | GPUAdapter | GPUDevice): Promise<GpuContext> {
  let ctx: GpuContext;
  if ('queue' in gpu) {
    ctx = wrap(gpu, 'injected device', isFallback(gpu.adapterInfo), [gpu]);
  } else {
    ctx = await fromAdapter('requestAdapter' in gpu ? await adapterOf(gpu) : gpu, gpu);
  }
  pending = Promise.resolve(ctx);
  return adopt(ctx);
}

function describeAdapter(adapter: GPUAdapter): string {
  const info = adapter.info;
  return [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ');
}

// GPUAdapterInfo.isFallbackAdapter is recent: older bindings lack it (then: not software)
const isFallback = (info: GPUAdapterInfo | undefined): boolean => (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter === true;

async function adapterOf(gpu: GPU): Promise<GPUAdapter> {
  const adapter = await gpu.requestAdapter();
  if (adapter === null) throw new Error('webgpu: no adapter found (requestAdapter returned null); is a WebGPU driver installed? See scripts/setup-webgpu.sh');
  return adapter;
}

/** Ask for the adapter's full buffer limits: the defaults (128 MiB bindings) are far below what lavapipe and real GPUs allow. */
async function requestDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const l = adapter.limits;
  return adapter.requestDevice({
    // subgroup broadcasts let lavapipe's matmul share loads across invocations (~2.5x faster)
    requiredFeatures: adapter.features.has('subgroups') ? ['subgroups' as GPUFeatureName] : [],
    requiredLimits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    },
  });
}

/** A device from `adapter` (itself from `gpu`), described and held as wrap wants. */
async function fromAdapter(adapter: GPUAdapter, gpu: GPU | GPUAdapter): Promise<GpuContext> {
  return wrap(await requestDevice(adapter), describeAdapter(adapter), isFallback(adapter.info), [gpu, adapter]);
}

function wrap(device: GPUDevice, adapterName: string, software: boolean, owners: readonly object[]): GpuContext {
  const ctx: GpuContext = { device, adapterName, limits: device.limits, software, lost: null, owners };
  device.lost.then((info) => {
    ctx.lost = `webgpu: the device was lost (${info.reason}): ${info.message || 'no message'}`;
  });
  return ctx;
}

/** The GPU from the environment: the browser's navigator.gpu, else Node's `webgpu` package. */
async function discover(): Promise<GpuContext> {
  let gpu: GPU | undefined = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (gpu === undefined) {
    let mod: { create(options: string[]): GPU; globals: object };
    try {
      mod = (await import('webgpu' as string)) as typeof mod;
    } catch (e) {
      throw new Error(`webgpu: no navigator.gpu and the 'webgpu' package could not be loaded (${(e as Error).message}); install it or call useDevice()`);
    }
    // Dawn's constants (GPUBufferUsage, ...) are globals in browsers; provide them in Node too.
    for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    gpu = mod.create([]);
  }
  return fromAdapter(await adapterOf(gpu), gpu);
}

/** The device, found on first use. */
export function getDevice(): Promise<GpuContext> {
  pending ??= discover().then(adopt);
  return pending;
}

/** The device in use, or null: no throw, for checks on every kernel launch. */
export const liveContext = (): GpuContext | null => current;

/** The device if one has been acquired (synchronous ops need it to exist already). */
export function currentDevice(): GpuContext {
  if (current === null) throw new Error('webgpu: no device yet; call `await kusari.initWebGpu()` (or x.toGpu(), which is async) first');
  if (current.lost !== null) throw new Error(current.lost);
  return current;
}

/**
 * Destroy the device so that Node can exit (Dawn keeps the process alive while a device
 * lives). Arrays on it become unusable; the next GPU use acquires a new device.
 */
export function releaseDevice(): void {
  if (current !== null) {
    current.lost = 'webgpu: the device was released by releaseDevice()';
    current.device.destroy();
  }
  current = null;
  pending = null;
}
