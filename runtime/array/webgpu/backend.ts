// The WebGPU backend: arrays in GPU buffers, elementwise and reduction kernels rendered from the IR.

import { countScalars, input, isIntegerExpr, scalar, substitute, topoSort, type Expr } from '../../../compiler/expr.js';
import { collapse, type ReduceOp } from '../../../compiler/js.js';
import {
  POLY_RANK, dispatchSize, packElementwiseParams, packPolyParams, packReduceParams, polyIsVec4, polyItems, polyLaunch, renderElementwise,
  renderPolymorphic, renderReduce, renderReduceTree, splitReduce, type ElementType, type PolyVariant, type WgslKernel,
} from '../../../compiler/wgsl.js';
import { BACKENDS, elementwiseReduced, intArithmetic, type Backend } from '../backend.js';
import { NDArray, contiguous, sameShape, sizeOf, type DType, type TypedArray } from '../ndarray.js';
import { currentDevice } from './device.js';
import { axpy } from './axpy.js';
import { elementType } from './kernel.js';
import { cached, empty, launch, launchGrid, storageOf } from './launch.js';
import { gpuMemory } from './memory.js';
import { libraryKernels } from '../library-kernels.js';
import { pipelineAsync } from './pipelines.js';
import { clearBuffer, readBuffer, withdraw, writeBuffer, type DispatchToken } from './queue.js';

/** Invocations per workgroup of the polymorphic elementwise kernels. */
const POLY_WG = 64;
/**
 * Iterations per invocation, where the count is not capped (a GPU, or a small array). Measured
 * on lavapipe for a 1M-float chain (bench/fusion.ts's B3): one invocation per element is 2-4x
 * slower than a few hundred to a few thousand workgroups, which is what 4 vec4 iterations per
 * invocation give.
 */
const PER_LANE = 4;
/**
 * Workgroups at most on a software adapter, which runs them on CPU threads. B3's forward and
 * backward kernel over 1M floats on lavapipe (2 threads): 8 to 128 workgroups, each a
 * contiguous block, took 3.35-3.7 ms, 1024 of them 3.9 ms as a grid-stride loop and 4.7 ms as
 * blocks (each workgroup costs a call into the shader, and a long block streams through
 * memory in order). 64 leaves room for machines with many more threads.
 */
const SOFTWARE_GROUPS = 64;
/**
 * Elements from which an aligned flat chain runs on the vec4 kernel. Below it a launch costs
 * the same either way (a few workgroups), while on lavapipe, which compiles shaders on the
 * CPU, the vec4 kernel takes ~3x as long to compile as the scalar one (measured: ~550 against
 * ~170 ms of CPU for a 3-output backward): a chain that only ever sees small arrays (a bias, a
 * per-sample loss, a test) never pays for it.
 */
const VEC4_FROM = 1024;

interface ElementwiseOptions { types: readonly ElementType[]; aliases: readonly (number | undefined)[]; intMath: boolean }

/**
 * The kernel for one variant of a chain. Keyed by structure only (never sizes or strides):
 * every shape, rank up to POLY_RANK and broadcast pattern of a variant shares one pipeline.
 */
function polyKernel(roots: readonly Expr[], nInputs: number, variant: PolyVariant | number, o: ElementwiseOptions): WgslKernel {
  const key = `${roots.map((r) => r.id).join(',')}|${nInputs}|${variant}|${o.types.join('')}|${o.aliases.join(',')}|${o.intMath}`;
  const maxStorageBuffers = currentDevice().limits.maxStorageBuffersPerShaderStage;
  const opts = { types: o.types, aliases: o.aliases, maxStorageBuffers, intMath: o.intMath, workgroupSize: POLY_WG };
  // a rank past POLY_RANK even after collapsing: a kernel for that rank (rare, never precompiled)
  return cached(key, () => (typeof variant === 'number'
    ? renderElementwise(roots, nInputs, variant, opts)
    : renderPolymorphic(roots, nInputs, variant, opts)));
}

/** Workgroups and block span for a polymorphic kernel over `items` on the current device (bench/fusion.ts launches its hand kernel so too). */
export const elementwiseLaunch = (items: number): { groups: number; span: number } =>
  polyLaunch(items, POLY_WG, PER_LANE, currentDevice().software ? SOFTWARE_GROUPS : undefined);

function elementwise(
  roots: readonly Expr[], inputs: readonly NDArray[], scalars: readonly number[],
  shape: readonly number[], dtype: DType, outs?: readonly NDArray[],
): NDArray[] {
  const results = outs ?? roots.map(() => empty(shape, dtype));
  // an input stored in an output's buffer (an in-place update) is read through that binding
  const aliases = inputs.map((x) => {
    const j = results.findIndex((r) => r.storage === x.storage);
    return j < 0 ? undefined : inputs.length + j;
  });
  const own = aliases.filter((a) => a === undefined).length;
  const limit = currentDevice().limits.maxStorageBuffersPerShaderStage;
  if (own + results.length > limit && roots.length > 1) {
    splitElementwise(roots, inputs, scalars, shape, dtype, results, limit);
    return results.slice();
  }
  const n = sizeOf(shape);
  if (n === 0) return results.slice();
  const operands = [...inputs, ...results];
  const plan = reusedPlan(roots, operands, aliases, scalars, shape, n) ?? newPlan(roots, inputs, results, aliases, scalars, shape, n);
  const token = launchGrid(plan.kernel, operands, plan.params, plan.groups);
  // a kernel of the rank-specific kind is never replaced (its shapes are rare, and it is never precompiled)
  last = plan.variant === null ? null : { token, first: results[0].storage };
  return results.slice();
}

/**
 * How one chain launches on one layout: its kernel, parameters and workgroups, and the
 * layout they were made for. A training loop calls a chain on the same layouts every step,
 * and deriving these again (broadcast views, collapsing, the kernel's key, packing) was most
 * of a launch's JS (measured: ~30 of ~45 us), paid twice per fused node whose backward takes
 * its forward's place.
 */
interface Plan {
  readonly kernel: WgslKernel;
  readonly params: ArrayBuffer;
  readonly groups: readonly [number, number, number];
  /** the polymorphic variant; null for a kernel of one rank past POLY_RANK */
  readonly variant: PolyVariant | null;
  // what it was made for: the output shape, each operand's layout (inputs, then outputs), the
  // aliases (one per input) and the scalars
  readonly shape: readonly number[];
  readonly operands: readonly { dtype: DType; offset: number; shape: readonly number[]; strides: readonly number[] }[];
  readonly aliases: readonly (number | undefined)[];
  readonly scalars: readonly number[];
}

/** Plans per chain, by its roots array (the ops, fused nodes and backward keep theirs), newest first. */
const plans = new WeakMap<readonly Expr[], Plan[]>();
/** Launch plans made and reused so far (tests read the differences). */
export const planStats = { made: 0, reused: 0 };
/** Layouts kept per chain: an op such as `add` runs on a few shapes a step (one per layer). */
const PLANS_PER_CHAIN = 8;

function reusedPlan(roots: readonly Expr[], operands: readonly NDArray[], aliases: readonly (number | undefined)[], scalars: readonly number[], shape: readonly number[], n: number): Plan | null {
  const kept = plans.get(roots);
  if (kept === undefined) return null;
  for (const p of kept) {
    if (fits(p, operands, aliases, scalars, shape, n)) {
      planStats.reused++;
      return p;
    }
  }
  return null;
}

function fits(p: Plan, operands: readonly NDArray[], aliases: readonly (number | undefined)[], scalars: readonly number[], shape: readonly number[], n: number): boolean {
  if (!sameShape(p.shape, shape) || p.operands.length !== operands.length || p.scalars.length !== scalars.length) return false;
  for (let j = 0; j < scalars.length; j++) if (!Object.is(p.scalars[j], scalars[j])) return false;
  for (let k = 0; k < aliases.length; k++) if (p.aliases[k] !== aliases[k]) return false;
  for (let k = 0; k < operands.length; k++) {
    const a = operands[k], o = p.operands[k];
    if (a.dtype !== o.dtype || a.offset !== o.offset || !sameShape(a.shape, o.shape) || !sameShape(a.strides, o.strides)) return false;
  }
  // whole-vec4 loads and stores also need what a layout does not say
  return p.variant !== 'flat4' || wholeVec4s(operands, aliases.length, n);
}

function newPlan(
  roots: readonly Expr[], inputs: readonly NDArray[], results: readonly NDArray[], aliases: readonly (number | undefined)[],
  scalars: readonly number[], shape: readonly number[], n: number,
): Plan {
  const operands = [...inputs.map((x) => x.broadcastTo(shape)), ...results];
  const layout = collapse({ shape: shape.slice(), strides: operands.map((a) => a.strides.slice()), offsets: operands.map((a) => a.offset) });
  const rank = layout.shape.length;
  const types = operands.map((a) => elementType(a.dtype));
  // all int32 and integer primitives: i32 arithmetic, exact past 2^24 and wrapping as on the CPU
  const intMath = intArithmetic(roots, inputs, scalars, results);
  let made: Pick<Plan, 'kernel' | 'params' | 'groups' | 'variant'>;
  if (rank > POLY_RANK) {
    const kernel = polyKernel(roots, inputs.length, rank, { types, aliases, intMath });
    made = { kernel, params: packElementwiseParams(kernel, layout, scalars), groups: dispatchSize(n, kernel.workgroupSize), variant: null };
  } else {
    const flat = rank === 0 ? { shape: [1], strides: layout.strides.map(() => [0]), offsets: layout.offsets } : layout;
    const vec4 = polyIsVec4({ types, intMath });
    const variant: PolyVariant = rank > 1 ? 'strided' : vec4 && n >= VEC4_FROM && aligned(flat, operands, inputs.length, n) ? 'flat4' : 'flat';
    const kernel = polyKernel(roots, inputs.length, variant, { types, aliases, intMath });
    const { groups, span } = elementwiseLaunch(polyItems(n, variant, flat.shape[flat.shape.length - 1]));
    made = { kernel, params: packPolyParams(kernel, variant, flat, scalars, span), groups: [groups, 1, 1], variant };
  }
  const plan: Plan = {
    ...made, shape: shape.slice(), aliases: aliases.slice(), scalars: scalars.slice(),
    operands: [...inputs, ...results].map((a) => ({ dtype: a.dtype, offset: a.offset, shape: a.shape.slice(), strides: a.strides.slice() })),
  };
  planStats.made++;
  const kept = plans.get(roots);
  if (kept === undefined) plans.set(roots, [plan]);
  else if (kept.unshift(plan) > PLANS_PER_CHAIN) kept.pop();
  return plan;
}

/** The last polymorphic elementwise launch: its dispatch and its first output's storage (see replaceLast). */
let last: { token: DispatchToken; first: NDArray['storage'] } | null = null;

/** Backend.replaceLast: withdraw the held kernel whose first output is `out`, and record `roots` in its place. */
function replaceLast(out: NDArray, roots: readonly Expr[], inputs: readonly NDArray[], scalars: readonly number[]): NDArray[] | null {
  const l = last;
  // an input in out's buffer would be read before anything was written there
  if (l === null || out.storage !== l.first || inputs.some((x) => x.storage === out.storage)) return null;
  // the replacement must be one kernel, or the work withdrawn could be left half done
  if (inputs.length + roots.length > currentDevice().limits.maxStorageBuffersPerShaderStage) return null;
  if (!withdraw(l.token)) return null;
  last = null;
  return elementwise(roots, inputs, scalars, out.shape, out.dtype, [out, ...roots.slice(1).map(() => empty(out.shape, out.dtype))]);
}

/**
 * Whether a flat layout can run on the flat4 kernel: every operand contiguous (stride 1) from
 * an offset on a 16-byte boundary (a broadcast input, stride 0, goes to 'flat'), and the
 * buffers as wholeVec4s wants them.
 */
function aligned(layout: { strides: readonly (readonly number[])[]; offsets: readonly number[] }, operands: readonly NDArray[], nInputs: number, n: number): boolean {
  for (let k = 0; k < operands.length; k++) {
    if (layout.strides[k][0] !== 1 || layout.offsets[k] % 4 !== 0) return false;
  }
  return wholeVec4s(operands, nInputs, n);
}

/**
 * Whether the flat4 kernel, which loads and stores whole vec4s, may run on these operands:
 * every buffer whole vec4s long (the pool's bucket sizes always are; a buffer from elsewhere
 * may not be), and where n is not a multiple of 4, every output ends where its storage ends,
 * so the up to 3 lanes stored past n are the buffer's padding, part of no array (an output
 * that is a slice of a longer array goes to 'flat', whose stores stop at n).
 */
function wholeVec4s(operands: readonly NDArray[], nInputs: number, n: number): boolean {
  for (let k = 0; k < operands.length; k++) {
    const storage = storageOf(operands[k]);
    if (storage.use().size % 16 !== 0) return false;
    if (k >= nInputs && n % 4 !== 0 && operands[k].offset + n !== storage.length) return false;
  }
  return true;
}

/**
 * More buffers than the device binds per stage: the roots in groups that fit, each group
 * reading only the inputs it uses (one dispatch per group). A single root over more inputs
 * than fit cannot be split without storing an intermediate: an error says so.
 */
function splitElementwise(
  roots: readonly Expr[], inputs: readonly NDArray[], scalars: readonly number[],
  shape: readonly number[], dtype: DType, results: readonly NDArray[], limit: number,
): void {
  const used = roots.map((r) => new Set(topoSort([r]).filter((e) => e.op === 'input').map((e) => e.value)));
  let group: number[] = [];
  let ins = new Set<number>();
  const run = () => {
    if (group.length === 0) return;
    const order = [...ins].sort((a, b) => a - b);
    const remap: Expr[] = [];
    order.forEach((k, j) => (remap[k] = input(j)));
    const sub = substitute(group.map((j) => roots[j]), remap);
    elementwise(sub, order.map((k) => inputs[k]), scalars, shape, dtype, group.map((j) => results[j]));
  };
  roots.forEach((_, j) => {
    const merged = new Set([...ins, ...used[j]]);
    if (merged.size + group.length + 1 > limit && group.length > 0) {
      run();
      group = [];
      ins = new Set(used[j]);
    } else ins = merged;
    if (ins.size + 1 > limit) {
      throw new Error(`webgpu: elementwise root ${j} reads ${ins.size} arrays; with its output that is more than the ${limit} storage buffers this device binds per kernel`);
    }
    group.push(j);
  });
  run();
}

/**
 * Create, ahead of the first call, every pipeline `elementwise` needs for `roots` whatever
 * the shapes (the flat4, flat and strided variants; i32 arithmetic too where the dtypes
 * allow it). Resolves to how many were created now (0 when all existed).
 */
async function precompile(roots: readonly Expr[], inputDtypes: readonly DType[], outDtypes: readonly DType[], inPlace?: readonly (number | undefined)[]): Promise<number> {
  const types = [...inputDtypes, ...outDtypes].map(elementType);
  const aliases = inputDtypes.map((_, k) => inPlace?.[k]);
  const allInt = [...inputDtypes, ...outDtypes].every((d) => d === 'int32') && isIntegerExpr(roots);
  // i32 arithmetic also needs int32 scalars, seen only at the call: with scalars, both kinds
  const kinds = allInt ? (countScalars(roots) > 0 ? [true, false] : [true]) : [false];
  const limit = currentDevice().limits.maxStorageBuffersPerShaderStage;
  if (aliases.filter((a) => a === undefined).length + roots.length > limit) return 0; // split per call (see splitElementwise)
  // all started at once, not one after another: a step that comes early then finds every
  // variant under way (and waits for it) rather than some not yet begun (and compiled again)
  const making: Promise<boolean>[] = [];
  for (const intMath of kinds) {
    for (const variant of intMath || !polyIsVec4({ types }) ? ['flat', 'strided'] as const : ['flat4', 'flat', 'strided'] as const) {
      const k = polyKernel(roots, inputDtypes.length, variant, { types, aliases, intMath });
      making.push(pipelineAsync(k.name, k.source));
    }
  }
  return (await Promise.all(making)).filter(Boolean).length;
}

/** Reduced lengths from which a workgroup (tree) reduction beats one invocation's serial loop. */
const TREE_FROM = 256;
/** Outputs from which one invocation per output already keeps the device busy. */
const TREE_BELOW = 512;
/** Invocations per workgroup of the tree reduction. */
const TREE_WG = 128;

function reduce(
  op: ReduceOp, map: Expr, inputs: readonly NDArray[], scalars: readonly number[],
  shape: readonly number[], axes: readonly number[], dtype: DType,
): NDArray {
  const outShape = shape.map((n, d) => (axes.includes(d) ? 1 : n));
  const out = empty(outShape, dtype);
  const n = sizeOf(outShape), m = sizeOf(shape) / Math.max(n, 1);
  if (n === 0) return out;
  const operands = inputs.map((x) => x.broadcastTo(shape));
  const types = [...operands.map((a) => elementType(a.dtype)), elementType(out.dtype)];
  const ins = { strides: operands.map((a) => a.strides), offsets: operands.map((a) => a.offset) };
  // int32 max/min reduce in i32 (exact past 2^24); the tree kernel computes in floats, so they stay serial
  const intMath = op !== 'sum' && intArithmetic([map], inputs, scalars, [out]);
  if (m < TREE_FROM || n >= TREE_BELOW || intMath) {
    // short reductions (softmax over classes, a loss over a batch), or enough outputs to
    // fill the device (barriers cost lavapipe more than the serial loop): one invocation per output
    const { kept, reduced } = splitReduce(shape, axes, ins, { strides: out.strides, offset: 0 });
    const kernel = serialReduceKernel(op, map, inputs.length, kept.shape.length, reduced.shape.length, types, intMath);
    launch(kernel, [...operands, out], packReduceParams(kernel, kept, reduced, scalars), n);
    return out;
  }
  // Long ones over few outputs (a full sum, a bias gradient): a workgroup per output, each
  // split into chunks of 256 elements per invocation so that enough workgroups run, the chunks
  // combined in a second pass. Chunk size and TREE_BELOW were tuned on lavapipe (bench/reduction.ts);
  // a discrete GPU has not measured them.
  const groups = Math.max(1, Math.min(Math.ceil(m / (TREE_WG * 256)), Math.floor(2048 / n)));
  const target = groups === 1 ? out : empty([n, groups], dtype);
  // the chunks of output i lie at i * groups + g: the kept strides of `out`, times groups
  const { kept, reduced } = splitReduce(shape, axes, ins, { strides: out.strides.map((s) => s * groups), offset: 0 });
  const kernel = treeReduceKernel(op, map, inputs.length, kept.shape.length, reduced.shape.length, types);
  const params = packReduceParams(kernel, kept, reduced, scalars, { groups, chunk: Math.ceil(m / groups), gs: 1 });
  launchGrid(kernel, [...operands, target], params, dispatchSize(n * groups * TREE_WG, TREE_WG));
  if (groups === 1) return out;
  return reduce(op, COPY, [target], [], [n, groups], [1], dtype).reshape(outShape);
}

const COPY = input(0);

function serialReduceKernel(op: ReduceOp, map: Expr, nInputs: number, kept: number, reduced: number, types: readonly ElementType[], intMath: boolean): WgslKernel {
  const key = `${op}|${map.id}|${nInputs}|${kept}|${reduced}|${types.join('')}|${intMath}`;
  return cached(key, () => renderReduce(map, nInputs, kept, reduced, op, { types, intMath }));
}

function treeReduceKernel(op: ReduceOp, map: Expr, nInputs: number, kept: number, reduced: number, types: readonly ElementType[]): WgslKernel {
  const key = `tree|${op}|${map.id}|${nInputs}|${kept}|${reduced}|${types.join('')}`;
  return cached(key, () => renderReduceTree(map, nInputs, kept, reduced, op, { types, workgroupSize: TREE_WG }));
}

/**
 * Create ahead, with createComputePipelineAsync, the kernels `reduce` picks for these dtypes and
 * collapsed ranks whatever the lengths: the serial one and, where it may be picked, the tree
 * one and its second pass. Resolves to how many were created now.
 */
async function precompileReduce(op: ReduceOp, map: Expr, inputDtypes: readonly DType[], outDtype: DType, kept: number, reduced: number): Promise<number> {
  const types = [...inputDtypes, outDtype].map(elementType);
  // as reduce decides: int32 max/min in i32 (serial only), everything else in floats
  const intMath = op !== 'sum' && [...inputDtypes, outDtype].every((d) => d === 'int32') && isIntegerExpr([map]);
  const ks = [serialReduceKernel(op, map, inputDtypes.length, kept, reduced, types, intMath)];
  if (!intMath) {
    const out = elementType(outDtype);
    ks.push(treeReduceKernel(op, map, inputDtypes.length, kept, reduced, types), serialReduceKernel(op, COPY, 1, 1, 1, [out, out], false));
  }
  return (await Promise.all(ks.map((k) => pipelineAsync(k.name, k.source)))).filter(Boolean).length;
}

function fromHost(data: TypedArray, shape: readonly number[]): NDArray {
  const x = empty(shape, data instanceof Int32Array ? 'int32' : data instanceof Float64Array ? 'float64' : 'float32');
  // after the recorded work, which may still use this (recycled) buffer (see writeBuffer)
  const host = data instanceof Float64Array ? new Float32Array(data) : data;
  if (host.length > 0) writeBuffer(storageOf(x).use(), host as ArrayBufferView<ArrayBuffer>);
  return x;
}

async function toHost(x: NDArray): Promise<TypedArray> {
  const src = x.isContiguous ? x : contiguous(x);
  if (src.size === 0) return x.dtype === 'int32' ? new Int32Array(0) : new Float32Array(0);
  const bytes = await readBuffer(storageOf(src).use(), src.offset * 4, src.size * 4);
  return x.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes);
}

function full(shape: readonly number[], value: number, dtype: DType): NDArray {
  const x = empty(shape, dtype);
  const s = storageOf(x);
  if (value === 0) {
    if (x.size > 0) clearBuffer(s.use(), 0, x.size * 4);
    return x;
  }
  return elementwise([FILL], [], [value], shape, dtype, [x])[0];
}

const FILL = scalar(0);

// A built app creates full's float32 fill (backward's seed of ones) in the background (fusion/background.ts).
libraryKernels(() => [{ roots: [FILL], inputs: [], outputs: ['float32'] }]);

export const webgpu: Backend = {
  device: 'webgpu',
  fromHost,
  toHost,
  full,
  elementwise: (roots, inputs, scalars, shape, dtype, outs, reduceTo) => (reduceTo === undefined
    ? elementwise(roots, inputs, scalars, shape, dtype, outs)
    : elementwiseReduced(webgpu, elementwise, roots, inputs, scalars, shape, dtype, outs, reduceTo)),
  reduce,
  precompile,
  replaceLast,
  axpy,
  memory: gpuMemory,
  precompileReduce,
};

BACKENDS.webgpu = webgpu;

