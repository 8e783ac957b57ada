// getArrayModule: numpy-like array functions bound to a device, so user code is device-agnostic.

import { input, scalar, type Expr } from '../../compiler/expr.js';
import type { ReduceOp } from '../../compiler/js.js';
import { NDArray, normAxis, type DType, type Device } from './ndarray.js';
import { matmulArray } from '../ops/matmul/kernels.js';
import { argmaxArray } from '../ops/reduction/arg-reduce.js';
import { randomUniform } from './random-uniform.js';
import * as xp from './xp.js';
import * as A from '../ops/arithmetic.js';
import * as T from '../ops/activation.js';
import { exprOf, type ElementwiseDef } from '../ops/elementwise.js';

/** The op table's expression for a row: numpy's names, F's definitions (one per op). */
const row = (op: { readonly def: ElementwiseDef }) => (...e: Expr[]): Expr => exprOf(op.def, e);

type Operand = NDArray | number;

/**
 * Plain array functions (no graph, no gradients) whose creation routines make arrays on
 * `device`; the math runs wherever its operands live. Chainer's `cuda.get_array_module`
 * gives numpy or cupy; this gives the CPU or the WebGPU module.
 */
export interface ArrayModule {
  readonly device: Device;
  array(data: xp.NestedArray | ArrayLike<number>, shape?: readonly number[], dtype?: DType): NDArray;
  zeros(shape: readonly number[], dtype?: DType): NDArray;
  ones(shape: readonly number[], dtype?: DType): NDArray;
  full(shape: readonly number[], value: number, dtype?: DType): NDArray;
  arange(start: number, stop?: number, step?: number, dtype?: DType): NDArray;
  randomUniform(shape: readonly number[], low?: number, high?: number): NDArray;
  add(x: Operand, y: Operand): NDArray;
  subtract(x: Operand, y: Operand): NDArray;
  multiply(x: Operand, y: Operand): NDArray;
  divide(x: Operand, y: Operand): NDArray;
  power(x: Operand, y: Operand): NDArray;
  maximum(x: Operand, y: Operand): NDArray;
  minimum(x: Operand, y: Operand): NDArray;
  where(condition: Operand, x: Operand, y: Operand): NDArray;
  negative(x: NDArray): NDArray;
  exp(x: NDArray): NDArray;
  log(x: NDArray): NDArray;
  sqrt(x: NDArray): NDArray;
  abs(x: NDArray): NDArray;
  tanh(x: NDArray): NDArray;
  sum(x: NDArray, axis?: number | readonly number[], keepdims?: boolean): NDArray;
  max(x: NDArray, axis?: number | readonly number[], keepdims?: boolean): NDArray;
  min(x: NDArray, axis?: number | readonly number[], keepdims?: boolean): NDArray;
  mean(x: NDArray, axis?: number | readonly number[], keepdims?: boolean): NDArray;
  argmax(x: NDArray, axis?: number): NDArray;
  matmul(a: NDArray, b: NDArray): NDArray;
}

/**
 * Set only while the build-time transform asks a module function which expression it applies
 * (transforms/ probes each once); null otherwise. @internal
 */
export const MODULE_TRACE: { hook: ((op: string, expr: Expr, arrays: NDArray[], scalars: number[]) => NDArray) | null } = { hook: null };

/** Apply an expression to operands: arrays become inputs, numbers runtime scalars. */
function apply(op: string, build: (...e: Expr[]) => Expr, operands: readonly Operand[]): NDArray {
  const arrays: NDArray[] = [];
  const scalars: number[] = [];
  const leaves = operands.map((o) => {
    if (typeof o === 'number') return scalar(scalars.push(o) - 1);
    if (o instanceof NDArray) return input(arrays.push(o) - 1);
    throw new Error(`${op}: operands must be NDArrays or numbers, got ${typeof o}`);
  });
  if (arrays.length === 0) throw new Error(`${op}: at least one operand must be an NDArray`);
  if (MODULE_TRACE.hook !== null) return MODULE_TRACE.hook(op, build(...leaves), arrays, scalars);
  return xp.elementwise([build(...leaves)], arrays, scalars, { op })[0];
}

function reduceOver(op: ReduceOp, x: NDArray, axis: number | readonly number[] | undefined, keepdims: boolean): NDArray {
  const axes = axis === undefined ? undefined : (typeof axis === 'number' ? [axis] : axis).map((a) => normAxis(a, x.ndim, op));
  return xp.reduce(op, x, axes, keepdims);
}

function makeModule(device: Device): ArrayModule {
  return Object.freeze({
    device,
    array: (data, shape, dtype) => xp.array(data as xp.NestedArray, shape, dtype).to(device),
    zeros: (shape, dtype) => xp.zeros(shape, dtype, device),
    ones: (shape, dtype) => xp.ones(shape, dtype, device),
    full: (shape, value, dtype) => xp.full(shape, value, dtype, device),
    arange: (start, stop, step, dtype) => xp.arange(start, stop, step, dtype).to(device),
    randomUniform: (shape, low = 0, high = 1) => randomUniform(shape, low, high, { device }),
    add: (x, y) => apply('add', row(A.add), [x, y]),
    subtract: (x, y) => apply('subtract', row(A.sub), [x, y]),
    multiply: (x, y) => apply('multiply', row(A.mul), [x, y]),
    divide: (x, y) => apply('divide', row(A.div), [x, y]),
    power: (x, y) => apply('power', row(A.pow), [x, y]),
    maximum: (x, y) => apply('maximum', row(A.maximum), [x, y]),
    minimum: (x, y) => apply('minimum', row(A.minimum), [x, y]),
    where: (c, x, y) => apply('where', row(A.where), [c, x, y]),
    negative: (x) => apply('negative', row(A.neg), [x]),
    exp: (x) => apply('exp', row(A.exp), [x]),
    log: (x) => apply('log', row(A.log), [x]),
    sqrt: (x) => apply('sqrt', row(A.sqrt), [x]),
    abs: (x) => apply('abs', row(A.abs), [x]),
    tanh: (x) => apply('tanh', row(T.tanh), [x]),
    sum: (x, axis, keepdims = false) => reduceOver('sum', x, axis, keepdims),
    max: (x, axis, keepdims = false) => reduceOver('max', x, axis, keepdims),
    min: (x, axis, keepdims = false) => reduceOver('min', x, axis, keepdims),
    mean: (x, axis, keepdims = false) => {
      const s = reduceOver('sum', x, axis, keepdims);
      return apply('mean', (a, n) => a.div(n), [s, x.size / s.size]);
    },
    // no axis: over the flattened array, as numpy.argmax
    argmax: (x, axis) => (axis === undefined ? argmaxArray(x.reshape([x.size]), 0) : argmaxArray(x, normAxis(axis, x.ndim, 'argmax'))),
    matmul: (a, b) => matmulArray(a, b),
  } satisfies ArrayModule);
}

const MODULES: { [D in Device]?: ArrayModule } = {};

/** The array module for a device. */
export function arrayModule(device: Device): ArrayModule {
  return (MODULES[device] ??= makeModule(device));
}
