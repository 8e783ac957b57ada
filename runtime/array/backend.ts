// The device interface (memory, copies, early freeing, the generic elementwise/reduce kernels) and per-op kernel tables.

import { input, isIntegerExpr, type Expr } from '../../compiler/expr.js';
import type { ReduceOp } from '../../compiler/js.js';
import type { Device, DType, NDArray, Storage, TypedArray } from './ndarray.js';

/**
 * What a device is: memory in and out, and the two kernels generated from the expression IR
 * (elementwise, reduce), which every elementwise op, fused chain and user kernel runs on.
 * Anything op-specific (matmul, conv, indexing...) is not here: its kernels live in the op's
 * own module, in a DeviceKernels table. Arrays passed in are views on this device (shape,
 * strides, offset); arrays returned are fresh and contiguous unless written into `outs`.
 */
export interface Backend {
  readonly device: Device;
  /** An array on this device holding a copy of host data (C order). */
  fromHost(data: TypedArray, shape: readonly number[]): NDArray;
  /** The elements of `x` in C order, on the host. */
  toHost(x: NDArray): Promise<TypedArray>;
  full(shape: readonly number[], value: number, dtype: DType): NDArray;
  /**
   * Evaluate `roots` at every position of `shape` (inputs broadcast), one output each.
   * `reduceTo[j]` (optional, additive): root j's values summed down to that shape (a shape
   * `shape` broadcasts from, e.g. a bias's), as the gradient of a broadcast input needs:
   * one elementwise dispatch, then one reduction per such root. Such roots take no `outs`.
   */
  elementwise(
    roots: readonly Expr[], inputs: readonly NDArray[], scalars: readonly number[], shape: readonly number[], dtype: DType,
    outs?: readonly NDArray[], reduceTo?: readonly (readonly number[] | null)[],
  ): NDArray[];
  /** Reduce map(inputs) over `axes` of `shape`; the result keeps reduced dims as size 1. */
  reduce(op: ReduceOp, map: Expr, inputs: readonly NDArray[], scalars: readonly number[], shape: readonly number[], axes: readonly number[], dtype: DType): NDArray;
  /**
   * Prepare, before any call, everything `elementwise(roots, ...)` needs for inputs and
   * outputs of these dtypes whatever their shapes, ranks (up to 6) and broadcast patterns:
   * on WebGPU the chain's pipelines, made with createComputePipelineAsync. Resolves to how
   * many pipelines were created now (0 when all existed, always 0 on the CPU, whose loops
   * compile in microseconds). `pipelineStats.created` (webgpu/pipelines.ts) counts them all.
   * `aliases[k]` (optional, additive): input k is stored in that output's binding (an
   * in-place update, as an optimizer's), which the kernel reads through that binding.
   */
  precompile(roots: readonly Expr[], inputDtypes: readonly DType[], outDtypes: readonly DType[], aliases?: readonly (number | undefined)[]): Promise<number>;
  /**
   * (Optional, additive) create ahead what `reduce(op, map, ...)` needs for inputs of these
   * dtypes and `kept`/`reduced` dims after collapsing, serial and tree: the library's
   * reductions join a built app's background precompile with it (fusion/background.ts).
   */
  precompileReduce?(op: ReduceOp, map: Expr, inputDtypes: readonly DType[], outDtype: DType, kept: number, reduced: number): Promise<number>;
  /**
   * (Optional) On a device that records kernels before running them (WebGPU): when the last
   * elementwise kernel recorded has `out` as its first output and nothing has been recorded
   * since, take it back and run `roots` over `inputs` INSTEAD, as one kernel writing root 0
   * into `out` and the others into fresh arrays (returned after `out`). Root 0 must be what
   * that kernel wrote into `out`. null, having done nothing, when it is too late.
   */
  replaceLast?(out: NDArray, roots: readonly Expr[], inputs: readonly NDArray[], scalars: readonly number[]): NDArray[] | null;
  /**
   * (Optional) ys[i] += alpha xs[i] for every pair, in place, as few kernels as the device
   * allows (one on the CPU, one per group of up to 8 pairs on WebGPU): SGD's update of a whole
   * model, where a kernel per parameter paid a launch even for a bias of 10 floats. The caller
   * passes contiguous float32 arrays of this device, each x the size of its y. false, having
   * written nothing, where this device cannot take these pairs together (the caller then
   * updates them one by one).
   */
  axpy?(alpha: number, xs: readonly NDArray[], ys: readonly NDArray[]): boolean;
  /**
   * (Optional) A copy of `x`, an array of this device, placed where this device's products and
   * axpy read and update it without staging it first (the CPU: the WebAssembly matmul's
   * memory), or `x` itself where there is no such place. For parameters, which every training
   * step multiplies and updates.
   */
  resident?(x: NDArray): NDArray;
  /** How this device gives memory back before the garbage collector would. */
  readonly memory: MemoryHooks;
}

/**
 * Early freeing, as the graph, scope() and optimizer.update(lossFn) ask for it without knowing
 * the device: a GPU array's JS object is tiny, so the collector feels no pressure while its
 * buffer waits (DESIGN.md, "Memory on the GPU"). A device whose arrays are ordinary JS memory
 * (the CPU) implements every hook as a no-op.
 */
export interface MemoryHooks {
  /**
   * Start recording the storages this device allocates (a step, a scope, a backward pass);
   * the function returned stops recording and returns them. Recordings nest.
   */
  record(): () => ReadonlySet<Storage>;
  /** This storage is long-lived state (a parameter, an optimizer's moments): nothing gives it back early. */
  pin(storage: Storage): void;
  /**
   * Nothing needs this storage any more (a scope ended without keeping it): give its memory
   * back now, unless pinned. A later use throws an error naming `by`.
   */
  release(storage: Storage, by: string): void;
}

/** The memory hooks of the device `storage` lives on. */
export function memoryOf(storage: Storage): MemoryHooks {
  return backendOf(ArrayBuffer.isView(storage) ? 'cpu' : storage.device).memory;
}

/**
 * Run `fn`, then have every device give back what it allocated during `fn`, except what
 * `keep(result)` returns (called only when something was allocated, so a device that records
 * nothing pays no walk over the result) and pinned state. Arrays given back throw if used
 * again: this is for code whose temporaries provably die with it. If `fn` throws, nothing is
 * given back early (the collector gets it).
 */
export function releasing<T>(fn: () => T, keep: (result: T) => Iterable<Storage>, by: string): T {
  const stops: (() => ReadonlySet<Storage>)[] = [];
  for (const b of Object.values(BACKENDS)) if (b !== undefined) stops.push(b.memory.record());
  let result: T;
  let recorded: ReadonlySet<Storage>[] = [];
  try {
    result = fn();
  } finally {
    recorded = stops.map((stop) => stop());
  }
  if (recorded.every((r) => r.size === 0)) return result;
  const kept = new Set(keep(result));
  for (const storages of recorded) for (const s of storages) if (!kept.has(s)) memoryOf(s).release(s, by);
  return result;
}

/**
 * Kernel launches so far on every device (elementwise, reductions and op kernels): tests
 * count them to prove a chain ran as one kernel.
 */
export const dispatchStats = { count: 0 };

/**
 * Backends by device, filled in by each backend's module when it is imported. A record
 * rather than imports keeps WebGPU code out of programs that never use it.
 */
export const BACKENDS: { [D in Device]?: Backend } = {};

export function backendOf(device: Device): Backend {
  if (device !== 'cpu' && device !== 'webgpu') {
    throw new Error(`unknown device ${typeof device === 'string' ? `'${device}'` : String(device)}; expected 'cpu' or 'webgpu'`);
  }
  const b = BACKENDS[device];
  if (b === undefined) throw new Error(`${device}: this device's backend is not loaded (import 'kusari' rather than its internals)`);
  return b;
}

/** The one device all `arrays` live on; an error naming the op and each device otherwise. */
export function deviceOf(arrays: readonly NDArray[], op: string, names?: readonly string[]): Device {
  return sameDevice(arrays.map((a) => a.device), op, names);
}

/** deviceOf for inputs known by their devices alone (fuse(fn)'s values not computed yet). */
export function sameDevice(devices: readonly Device[], op: string, names?: readonly string[]): Device {
  const first = devices[0] ?? 'cpu';
  if (devices.some((d) => d !== first)) {
    const seen = devices.map((d, i) => `${names?.[i] ?? `x${i}`} on ${d}`).join(', ');
    throw new Error(`${op}: inputs are on different devices (${seen}); move them with toGpu() or toCpu() first`);
  }
  return first;
}

/**
 * Backend.elementwise's `reduceTo` on top of a backend's plain elementwise and reduce: the
 * reduced roots go to full-size temporaries in the same dispatch, and each is then summed
 * over the axes its target broadcasts along (one reduce call each).
 */
export function elementwiseReduced(
  b: Pick<Backend, 'reduce'>, plain: Backend['elementwise'],
  roots: readonly Expr[], inputs: readonly NDArray[], scalars: readonly number[], shape: readonly number[], dtype: DType,
  outs: readonly NDArray[] | undefined, reduceTo: readonly (readonly number[] | null)[],
): NDArray[] {
  if (reduceTo.length !== roots.length) throw new Error(`elementwise: reduceTo has ${reduceTo.length} entries for ${roots.length} roots`);
  const axesOf = reduceTo.map((target) => {
    if (target === null) return null;
    const pad = shape.length - target.length;
    const ok = pad >= 0 && target.every((n, d) => n === shape[pad + d] || n === 1);
    if (!ok) throw new Error(`elementwise: cannot sum shape [${shape.join(', ')}] down to [${target.join(', ')}]; the target must broadcast to it`);
    return shape.map((_, d) => d).filter((d) => d < pad || (target[d - pad] === 1 && shape[d] !== 1));
  });
  if (outs !== undefined && reduceTo.some((t, j) => t !== null && outs[j] !== undefined)) {
    throw new Error('elementwise: a root with reduceTo takes no out array');
  }
  const full = plain(roots, inputs, scalars, shape, dtype, outs);
  return full.map((y, j) => {
    const axes = axesOf[j];
    if (axes === null) return y;
    const target = reduceTo[j]!;
    if (axes.length === 0) return y.reshape(target);
    return b.reduce('sum', REDUCED_COPY, [y], [], shape, axes, dtype).reshape(target);
  });
}

/** int32 in, int32 out, integer primitives only: then a kernel computes in int32 (exact, wrapping). */
export function intArithmetic(roots: readonly Expr[], inputs: readonly NDArray[], scalars: readonly number[], outs: readonly NDArray[]): boolean {
  return outs.every((o) => o.dtype === 'int32') && inputs.every((x) => x.dtype === 'int32')
    && scalars.every((c) => Number.isInteger(c) && c >= -(2 ** 31) && c < 2 ** 31) && isIntegerExpr(roots);
}

/**
 * One op's kernel on every device, kept in the op's module beside its checks and backward.
 * Mapped over Device, so a device without a kernel is a compile error, not a runtime miss.
 */
export type DeviceKernels<K> = { readonly [D in Device]: K };

/** The kernel in `kernels` for `device`; an error if that device's backend is not loaded. */
export function kernelFor<K>(kernels: DeviceKernels<K>, device: Device): K {
  backendOf(device);
  return kernels[device];
}

const REDUCED_COPY = input(0);
