// Shared test harness: parameter products, closeness checks, kernel counting, devices.

import type { ExecutionContext, SerialFn, TestFn } from 'ava';
import { dispatchStats } from '../runtime/array/cpu/kernels.js';
import { NDArray, TYPED, shapeStr, type Device } from '../runtime/array/ndarray.js';
import { randomNormal } from '../runtime/array/xp.js';
import { Variable } from '../runtime/graph/variable.js';
import '../runtime/graph/backward.js';
import * as F from '../runtime/ops/index.js';
import { checkBackward, checkDoubleBackward, type CheckOptions, type CheckedFn } from '../runtime/gradient-check.js';
import { RandomState } from '../runtime/array/random.js';

/** Every combination of the given parameter lists (Chainer's testing.product). */
export function product<T extends Record<string, readonly unknown[]>>(params: T): { [K in keyof T]: T[K][number] }[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [k, values] of Object.entries(params)) {
    out = out.flatMap((o) => values.map((v) => ({ ...o, [k]: v })));
  }
  return out as { [K in keyof T]: T[K][number] }[];
}

/** Flat numbers of an NDArray, a typed array or nested arrays. */
export function flat(x: NDArray | ArrayLike<number> | number | unknown[]): number[] {
  if (x instanceof NDArray) return Array.from(x.toFlat());
  if (typeof x === 'number') return [x];
  if (Array.isArray(x)) return (x as unknown[]).flat(Infinity) as number[];
  return Array.from(x as ArrayLike<number>);
}

/** Assert elementwise |a - b| <= atol + rtol |b| (NaN equals NaN), with a readable failure. */
export function allclose(
  t: ExecutionContext, actual: NDArray | ArrayLike<number> | number | unknown[], expected: NDArray | ArrayLike<number> | number | unknown[],
  { atol = 1e-6, rtol = 1e-5 } = {},
): void {
  const a = flat(actual), b = flat(expected);
  if (a.length !== b.length) {
    t.fail(`length ${a.length} != expected ${b.length}`);
    return;
  }
  for (let i = 0; i < a.length; i++) {
    const ok = (Number.isNaN(a[i]) && Number.isNaN(b[i])) || a[i] === b[i] || Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]);
    if (!ok) {
      t.fail(`element ${i}: ${a[i]} != expected ${b[i]} (atol ${atol}, rtol ${rtol})`);
      return;
    }
  }
  t.pass();
}

/** Run `fn` and return how many kernels it dispatched. */
export function countKernels(fn: () => unknown): number {
  const before = dispatchStats.count;
  fn();
  return dispatchStats.count - before;
}

// ---- op tests: tagged gradient checks, seeded inputs, plain-JS references ---------------

type Ops = typeof F;
/** The names of the functions exported from F. */
export type OpName = { [K in keyof Ops]: Ops[K] extends (...args: never[]) => unknown ? K : never }[keyof Ops];

/** `F[name]` wrapped so that a check can prove the op it is tagged with was really called. */
function spyOn<K extends OpName>(name: K): { op: Ops[K]; calls: () => number } {
  let n = 0;
  const real = F[name] as unknown as (...args: unknown[]) => unknown;
  const op = ((...args: unknown[]) => {
    n++;
    return real(...args);
  }) as unknown as Ops[K];
  return { op, calls: () => n };
}

/**
 * checkBackward for the op `name`: `build` receives F[name] (spied) and returns the checked
 * function. The first argument must be a string literal: test/ops/registry.test.ts finds
 * the gradient checks by scanning for it, and this throws if the op was never called.
 */
export function checkOpBackward<K extends OpName>(
  name: K, build: (op: Ops[K]) => CheckedFn, inputs: readonly NDArray[], gys?: readonly NDArray[] | null, opts?: CheckOptions,
): void {
  const { op, calls } = spyOn(name);
  checkBackward(build(op), inputs, gys, opts);
  if (calls() === 0) throw new Error(`checkOpBackward('${name}'): the checked function never called F.${name}`);
}

/** checkDoubleBackward for the op `name`, tagged and spied like checkOpBackward. */
export function checkOpDoubleBackward<K extends OpName>(
  name: K, build: (op: Ops[K]) => CheckedFn, inputs: readonly NDArray[], gys: readonly NDArray[],
  ggxs?: readonly NDArray[] | null, opts?: CheckOptions,
): void {
  const { op, calls } = spyOn(name);
  checkDoubleBackward(build(op), inputs, gys, ggxs, opts);
  if (calls() === 0) throw new Error(`checkOpDoubleBackward('${name}'): the checked function never called F.${name}`);
}

const sizeOfShape = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Seeded float64 samples from `draw` in an NDArray of `shape`. */
export function sample(shape: readonly number[], seed: number, draw: (rng: RandomState) => number): NDArray {
  const rng = new RandomState(seed);
  const data = new Float64Array(sizeOfShape(shape));
  for (let i = 0; i < data.length; i++) data[i] = draw(rng);
  return new NDArray(data, shape.slice());
}

/** Uniform float64 in [lo, hi). */
export const uniform = (shape: readonly number[], seed: number, lo = -1, hi = 1): NDArray =>
  sample(shape, seed, (r) => lo + (hi - lo) * r.uniform());

/** Float64 with |x| in [lo, hi) and a random sign: away from the kink of relu, abs and friends at 0. */
export const awayFromZero = (shape: readonly number[], seed: number, lo = 0.2, hi = 2): NDArray =>
  sample(shape, seed, (r) => (r.uniform() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r.uniform()));

/** Float64 values that are pairwise at least `gap` apart, in random order (no ties for max/min). */
export function distinct(shape: readonly number[], seed: number, gap = 0.1): NDArray {
  const rng = new RandomState(seed);
  const n = sizeOfShape(shape);
  const perm = rng.permutation(n);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = (perm[i] - n / 2) * gap;
  return new NDArray(data, shape.slice());
}

/** Row-major strides of `shape`, computed here so references do not lean on kusari. */
export function refStrides(shape: readonly number[]): number[] {
  const s: number[] = [];
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** The multi-index of flat position `i` in `shape`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

/**
 * A plain-JS NumPy broadcast of `fn` over flat row-major operands: the reference for
 * elementwise ops. Returns the output shape and values.
 */
export function refBroadcast(
  fn: (...v: number[]) => number, ...xs: { data: ArrayLike<number>; shape: readonly number[] }[]
): { shape: number[]; data: number[] } {
  const rank = Math.max(...xs.map((x) => x.shape.length));
  const shape = Array.from({ length: rank }, (_, d) =>
    Math.max(...xs.map((x) => x.shape[d - (rank - x.shape.length)] ?? 1)));
  const data: number[] = [];
  const n = sizeOfShape(shape);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    const vals = xs.map((x) => {
      const st = refStrides(x.shape);
      let p = 0;
      x.shape.forEach((m, d) => { p += (m === 1 ? 0 : idx[d + rank - x.shape.length]) * st[d]; });
      return x.data[p];
    });
    data.push(fn(...vals));
  }
  return { shape, data };
}

/** The flat values and shape of an NDArray, for refBroadcast. */
export const plain = (x: NDArray): { data: number[]; shape: number[] } => ({ data: Array.from(x.toFlat()), shape: x.shape.slice() });

// ---- devices: every op test on the CPU and on WebGPU ---------------------------------------

/**
 * The devices every op test runs on. A device missing here is *skipped* with its reason
 * (see useDevices); under CI (process.env.CI set) WebGPU is required and a missing adapter fails.
 */
export const DEVICES = ['cpu', 'webgpu'] as const satisfies readonly Device[];

export type GpuStatus = { readonly available: true; readonly adapter: string } | { readonly available: false; readonly reason: string };

let gpuProbe: Promise<GpuStatus> | undefined;

// Loaded on demand, so that CPU-only test files never load the WebGPU backend.
const webgpu = () => import('../runtime/array/webgpu/index.js');

/**
 * Whether WebGPU works in this process: acquires the device (once; it is the device the
 * tests then use, released by useDevices' after.always hook).
 */
export function webgpuStatus(): Promise<GpuStatus> {
  // a backend that fails to load is a bug, not a missing device: only initWebGpu's failure is caught
  gpuProbe ??= webgpu().then((m) => m.initWebGpu().then(
    (ctx): GpuStatus => ({ available: true, adapter: ctx.adapterName }),
    (e: unknown): GpuStatus => ({ available: false, reason: e instanceof Error ? e.message : String(e) }),
  ));
  return gpuProbe;
}

/** 'tanh: forward ...' on webgpu is 'tanh [webgpu]: forward ...', so the output shows which device ran. */
export function deviceTitle(title: string, device: Device): string {
  const colon = title.indexOf(':');
  return colon < 0 ? `${title} [${device}]` : `${title.slice(0, colon)} [${device}]${title.slice(colon)}`;
}

export type DeviceImpl = (t: ExecutionContext, device: Device) => void | Promise<void>;

/** Declares tests per device; made by useDevices, one per test file. */
export interface DeviceSuite {
  /** The WebGPU probe's result for this process. */
  readonly status: GpuStatus;
  /** One test on `device`, its title tagged with the device. */
  on(device: Device, title: string, impl: DeviceImpl): void;
  /** The same test once per entry of DEVICES ('op [cpu]: ...', 'op [webgpu]: ...'). */
  each(title: string, impl: DeviceImpl): void;
  /** A test that needs WebGPU only (on('webgpu', ...)). */
  gpu(title: string, impl: (t: ExecutionContext) => void | Promise<void>): void;
}

/**
 * Set up the devices for one test file (top-level `const devices = await useDevices(test)`):
 * probes WebGPU now, because ava can only skip a test when declaring it; `test.before`
 * makes sure the device is up and `test.after.always` releases it (Dawn otherwise keeps
 * the worker alive). A WebGPU test without an adapter is declared skipped, its title
 * carrying the reason, or, when process.env.CI is set, declared failing with the reason.
 */
export async function useDevices(test: TestFn | SerialFn, env: { CI?: string } = process.env): Promise<DeviceSuite> {
  const status = await webgpuStatus();
  const { initWebGpu, releaseWebGpu } = await webgpu();
  test.before(async () => {
    if (status.available) await initWebGpu();
  });
  test.after.always(() => releaseWebGpu());
  return deviceSuite(test, status, env.CI !== undefined && !['', '0', 'false'].includes(env.CI.toLowerCase()));
}

/** The part of ava's `test` that deviceSuite uses (the harness's own tests pass a recorder). */
export interface Declare {
  (title: string, impl: (t: ExecutionContext) => void | Promise<void>): void;
  skip(title: string, impl: (t: ExecutionContext) => void): void;
}

/** The declaring half of useDevices: a WebGPU test runs, fails (`required`) or is skipped, by `gpu`. */
export function deviceSuite(test: Declare, gpu: GpuStatus, required: boolean): DeviceSuite {
  const on = (device: Device, title: string, impl: DeviceImpl) => {
    const name = deviceTitle(title, device);
    if (device === 'cpu' || gpu.available) {
      test(name, (t) => impl(t, device));
    } else if (required) {
      test(name, (t) => t.fail(`WebGPU is required when CI is set, and no adapter was found: ${gpu.reason}`));
    } else {
      test.skip(`${name} (skipped: no WebGPU here: ${gpu.reason})`, () => {});
    }
  };
  return {
    status: gpu,
    on,
    each: (title, impl) => { for (const d of DEVICES) on(d, title, impl); },
    gpu: (title, impl) => on('webgpu', title, (t) => impl(t)),
  };
}

export interface DeviceCheckOptions {
  /** The device under test (default webgpu). */
  device?: Device;
  /** Float32 tolerance against the references (default 1e-5 and 1e-4). */
  atol?: number;
  rtol?: number;
  /** Seed of the gy drawn for backward. */
  seed?: number;
  /** Indexes of inputs that get no gradient (int32 inputs never do). */
  noGrads?: readonly number[];
  /** An independent plain-JS reference for the forward outputs (one flat list per output). */
  expected?: readonly ArrayLike<number>[];
  /** Skip the backward comparison (default false). */
  forwardOnly?: boolean;
}

interface DeviceRun {
  ys: { shape: readonly number[]; dtype: string; device: Device; data: number[] }[];
  /** Per input: its gradient's values, null when it has none (or is not differentiable). */
  gxs: (number[] | null)[];
}

/**
 * The cross-device check of op `name`: run `build(F[name])` on float32 copies of `inputs`
 * on `opts.device` (int32 inputs stay int32 and move too), backprop a seeded random gy,
 * and compare outputs and every input gradient within float32 tolerance against the same
 * function run on the CPU in float64 (the run that checkOpBackward verifies numerically)
 * and, for a device other than the CPU, against the CPU in float32. So a GPU whose
 * gradients equal the checked CPU gradients passes its backward check. Throws, naming the
 * op, the device and the first differing element; like checkOpBackward, the first argument
 * is a string literal (test/ops/registry.test.ts scans for it) and F[name] must be called.
 */
export async function checkOnDevices<K extends OpName>(
  name: K, build: (op: Ops[K]) => CheckedFn, inputs: readonly NDArray[], opts: DeviceCheckOptions = {},
): Promise<void> {
  const { device = 'webgpu', atol = 1e-5, rtol = 1e-4, seed = 0, noGrads = [], expected, forwardOnly = false } = opts;
  const where = `checkOnDevices('${name}') on ${device}`;
  // every run starts from the same float32 values, so only the arithmetic differs between runs
  const inputs32 = inputs.map((x) => castTo(x, 'float32'));
  // one gy per output, drawn once: shapes come from the reference run
  let gys: NDArray[] | undefined;
  const run = async (on: Device, dtype: 'float32' | 'float64'): Promise<DeviceRun> => {
    const { op, calls } = spyOn(name);
    const vars = inputs32.map((x, i) => new Variable(castTo(x, dtype).to(on), { requiresGrad: x.dtype !== 'int32' && !noGrads.includes(i) }));
    const out = build(op)(...vars);
    const ys = Array.isArray(out) ? out : [out];
    if (calls() === 0) throw new Error(`${where}: the checked function never called F.${name}`);
    const read = await Promise.all(ys.map(async (y) => ({ shape: y.shape, dtype: y.dtype, device: y.data.device, data: Array.from(await y.data.data()) })));
    if (forwardOnly) return { ys: read, gxs: [] };
    if (gys === undefined) {
      const rng = new RandomState(seed + 1);
      gys = ys.map((y) => randomNormal(y.shape, 0, 1, { dtype: 'float64', rng }));
    }
    ys.map((y, j) => F.sum(F.mul(y, castTo(gys![j], dtype).to(on)))).reduce((a, b) => F.add(a, b)).backward();
    const gxs = await Promise.all(vars.map(async (v, i) => {
      if (v.grad === null) return null;
      if (v.grad.device !== on) throw new Error(`${where}: the gradient of input ${i} is on ${v.grad.device}, expected ${on}`);
      return Array.from(await v.grad.data());
    }));
    return { ys: read, gxs };
  };

  const ref = await run('cpu', 'float64');
  const cpu32 = device === 'cpu' ? undefined : await run('cpu', 'float32');
  const got = await run(device, 'float32');
  got.ys.forEach((y, j) => {
    if (y.device !== device) throw new Error(`${where}: output ${j} is on ${y.device}`);
    if (y.dtype !== 'float32') throw new Error(`${where}: output ${j} is ${y.dtype}, expected float32 (the op must keep its input dtype)`);
    if (y.shape.join() !== ref.ys[j].shape.join()) throw new Error(`${where}: output ${j} has shape ${shapeStr(y.shape)}, the CPU's has ${shapeStr(ref.ys[j].shape)}`);
  });
  if (got.ys.length !== ref.ys.length) throw new Error(`${where}: ${got.ys.length} outputs, the CPU gives ${ref.ys.length}`);
  const compare = (what: string, a: readonly number[], b: readonly number[], against: string) => {
    const bad = firstMismatch(a, b, atol, rtol);
    if (bad !== null) throw new Error(`${where}: ${what} differs from ${against}: ${bad} (atol ${atol}, rtol ${rtol})`);
  };
  const refs: [string, DeviceRun][] = [['the CPU in float64', ref], ...(cpu32 ? [['the CPU in float32', cpu32] as [string, DeviceRun]] : [])];
  for (const [against, r] of refs) {
    got.ys.forEach((y, j) => compare(`output ${j}`, y.data, r.ys[j].data, against));
    // no gradient is a zero gradient, as in checkBackward
    got.gxs.forEach((g, i) => {
      const want = r.gxs[i];
      if (g === null && want === null) return;
      const n = sizeOfShape(inputs[i].shape);
      compare(`the gradient of input ${i}`, g ?? new Array<number>(n).fill(0), want ?? new Array<number>(n).fill(0), against);
    });
  }
  expected?.forEach((e, j) => compare(`output ${j}`, got.ys[j].data, Array.from(e), 'the plain-JS reference'));
}

/** `x` as `dtype` on the CPU (int32 arrays unchanged). */
function castTo(x: NDArray, dtype: 'float32' | 'float64'): NDArray {
  if (x.dtype === 'int32' || x.dtype === dtype) return x;
  return new NDArray(new TYPED[dtype](x.toFlat()), x.shape.slice());
}

/** The first element where |a - b| > atol + rtol |b| (NaN equal to NaN), described; null if none. */
function firstMismatch(a: readonly number[], b: readonly number[], atol: number, rtol: number): string | null {
  if (a.length !== b.length) return `length ${a.length} != ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const ok = (Number.isNaN(a[i]) && Number.isNaN(b[i])) || a[i] === b[i] || Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]);
    if (!ok) return `element ${i}: ${a[i]} != ${b[i]}`;
  }
  return null;
}

/** `x` as a float32 Variable on `device` (int32 stays int32). */
export function on(device: Device, x: NDArray, opts?: { requiresGrad?: boolean }): Variable {
  return new Variable(castTo(x, 'float32').to(device), opts);
}
