// The WebGPU backend: arrays in GPU buffers, elementwise and reduction kernels rendered from the IR.

import { input, scalar, type Expr } from '../../../compiler/expr.js';
import { collapse, type ReduceOp } from '../../../compiler/js.js';
import {
  dispatchSize, packElementwiseParams, packReduceParams, renderElementwise, renderReduce, renderReduceTree, splitReduce,
} from '../../../compiler/wgsl.js';
import { BACKENDS, intArithmetic, type Backend } from '../backend.js';
import { NDArray, contiguous, sizeOf, type DType, type TypedArray } from '../ndarray.js';
import { currentDevice } from './device.js';
import { elementType } from './kernel.js';
import { cached, empty, launch, launchGrid, storageOf } from './launch.js';
import { clearBuffer, flush, readBuffer } from './queue.js';

function elementwise(
  roots: readonly Expr[], inputs: readonly NDArray[], scalars: readonly number[],
  shape: readonly number[], dtype: DType, outs?: readonly NDArray[],
): NDArray[] {
  const results = outs ?? roots.map(() => empty(shape, dtype));
  const operands = [...inputs.map((x) => x.broadcastTo(shape)), ...results];
  const layout = collapse({ shape: shape.slice(), strides: operands.map((a) => a.strides.slice()), offsets: operands.map((a) => a.offset) });
  const rank = layout.shape.length;
  // an input stored in an output's buffer (an in-place update) is read through that binding
  const aliases = inputs.map((x) => {
    const j = results.findIndex((r) => r.storage === x.storage);
    return j < 0 ? undefined : inputs.length + j;
  });
  const types = operands.map((a) => elementType(a.dtype));
  const maxStorageBuffers = currentDevice().limits.maxStorageBuffersPerShaderStage;
  // all int32 and integer primitives: i32 arithmetic, exact past 2^24 and wrapping as on the CPU
  const intMath = intArithmetic(roots, inputs, scalars, results);
  const key = `${roots.map((r) => r.id).join(',')}|${inputs.length}|${rank}|${types.join('')}|${aliases.join(',')}|${intMath}`;
  const kernel = cached(key, () => renderElementwise(roots, inputs.length, rank, { types, aliases, maxStorageBuffers, intMath }));
  const n = sizeOf(shape);
  if (n > 0) launch(kernel, operands, packElementwiseParams(kernel, layout, scalars), n);
  return results.slice();
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
    const key = `${op}|${map.id}|${inputs.length}|${kept.shape.length}|${reduced.shape.length}|${types.join('')}|${intMath}`;
    const kernel = cached(key, () => renderReduce(map, inputs.length, kept.shape.length, reduced.shape.length, op, { types, intMath }));
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
  const key = `tree|${op}|${map.id}|${inputs.length}|${kept.shape.length}|${reduced.shape.length}|${types.join('')}`;
  const kernel = cached(key, () => renderReduceTree(map, inputs.length, kept.shape.length, reduced.shape.length, op, { types, workgroupSize: TREE_WG }));
  const params = packReduceParams(kernel, kept, reduced, scalars, { groups, chunk: Math.ceil(m / groups), gs: 1 });
  launchGrid(kernel, [...operands, target], params, dispatchSize(n * groups * TREE_WG, TREE_WG));
  if (groups === 1) return out;
  return reduce(op, COPY, [target], [], [n, groups], [1], dtype).reshape(outShape);
}

const COPY = input(0);

function fromHost(data: TypedArray, shape: readonly number[]): NDArray {
  const x = empty(shape, data instanceof Int32Array ? 'int32' : data instanceof Float64Array ? 'float64' : 'float32');
  // writeBuffer runs at once on the queue, ahead of recorded work; flush so that work which
  // used this (recycled) buffer before runs first.
  flush();
  const host = data instanceof Float64Array ? new Float32Array(data) : data;
  if (host.length > 0) currentDevice().device.queue.writeBuffer(storageOf(x).use(), 0, host.buffer, host.byteOffset, host.byteLength);
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

export const webgpu: Backend = {
  device: 'webgpu',
  fromHost,
  toHost,
  full,
  elementwise,
  reduce,
};

BACKENDS.webgpu = webgpu;

