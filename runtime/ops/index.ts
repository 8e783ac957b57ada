// The functions namespace (F) and the method forms on Variable (`x.add(y).mul(2)`).

import { Variable, type VariableLike } from '../graph/variable.js';
import * as activation from './activation.js';
import * as arithmetic from './arithmetic.js';
import * as indexing from './indexing.js';
import * as matmul from './matmul.js';
import * as reduction from './reduction.js';
import * as shape from './shape.js';

export * from './activation.js';
export * from './arithmetic.js';
export * from './average-pooling-2d.js';
export * from './convolution-2d.js';
export * from './deconvolution-2d.js';
export * from './embed-id.js';
export * from './evaluation.js';
export * from './indexing.js';
export * from './local-response-normalization.js';
export * from './loss.js';
export * from './lstm.js';
export * from './matmul.js';
export * from './max-pooling-2d.js';
export * from './noise.js';
export * from './normalization.js';
export * from './reduction.js';
export * from './shape.js';
export * from './unpooling-2d.js';

const { add, sub, mul, div, pow, neg } = arithmetic;

type Axis = number | readonly number[];

declare module '../graph/variable.js' {
  interface Variable {
    add(y: VariableLike): Variable;
    sub(y: VariableLike): Variable;
    /** y - this */
    rsub(y: VariableLike): Variable;
    mul(y: VariableLike): Variable;
    div(y: VariableLike): Variable;
    /** y / this */
    rdiv(y: VariableLike): Variable;
    pow(y: VariableLike): Variable;
    neg(): Variable;
    exp(): Variable;
    log(): Variable;
    sqrt(): Variable;
    abs(): Variable;
    tanh(): Variable;
    sigmoid(): Variable;
    relu(): Variable;
    matmul(y: VariableLike, transA?: boolean, transB?: boolean): Variable;
    sum(axis?: Axis, keepdims?: boolean): Variable;
    mean(axis?: Axis, keepdims?: boolean): Variable;
    max(axis?: Axis, keepdims?: boolean): Variable;
    min(axis?: Axis, keepdims?: boolean): Variable;
    /** `x.reshape(2, 3)` or `x.reshape([2, 3])`, as NumPy's ndarray.reshape. */
    reshape(...shape: number[] | [readonly number[]]): Variable;
    transpose(axes?: readonly number[]): Variable;
    /** The transpose (all axes reversed). */
    readonly T: Variable;
    broadcastTo(shape: readonly number[]): Variable;
    getItem(index: indexing.Index | readonly indexing.Index[]): Variable;
  }
}

const methods: ThisType<Variable> & { [K in keyof Variable]?: Variable[K] } = {
  add(y: VariableLike) { return add(this, y); },
  sub(y: VariableLike) { return sub(this, y); },
  rsub(y: VariableLike) { return sub(y, this); },
  mul(y: VariableLike) { return mul(this, y); },
  div(y: VariableLike) { return div(this, y); },
  rdiv(y: VariableLike) { return div(y, this); },
  pow(y: VariableLike) { return pow(this, y); },
  neg() { return neg(this); },
  exp() { return arithmetic.exp(this); },
  log() { return arithmetic.log(this); },
  sqrt() { return arithmetic.sqrt(this); },
  abs() { return arithmetic.abs(this); },
  tanh() { return activation.tanh(this); },
  sigmoid() { return activation.sigmoid(this); },
  relu() { return activation.relu(this); },
  matmul(y: VariableLike, transA?: boolean, transB?: boolean) { return matmul.matmul(this, y, transA, transB); },
  sum(axis?: Axis, keepdims?: boolean) { return shape.sum(this, axis, keepdims); },
  mean(axis?: Axis, keepdims?: boolean) { return reduction.mean(this, axis, keepdims); },
  max(axis?: Axis, keepdims?: boolean) { return reduction.max(this, axis, keepdims); },
  min(axis?: Axis, keepdims?: boolean) { return reduction.min(this, axis, keepdims); },
  reshape(...s: number[] | [readonly number[]]) {
    return shape.reshape(this, s.length === 1 && Array.isArray(s[0]) ? (s[0] as readonly number[]) : (s as number[]));
  },
  transpose(axes?: readonly number[]) { return shape.transpose(this, axes); },
  broadcastTo(s: readonly number[]) { return shape.broadcastTo(this, s); },
  getItem(index: indexing.Index | readonly indexing.Index[]) { return indexing.getItem(this, index); },
};
Object.assign(Variable.prototype, methods);
Object.defineProperty(Variable.prototype, 'T', { get(this: Variable) { return shape.transpose(this); } });
