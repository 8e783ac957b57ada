// Losses: softmaxCrossEntropy (one fused node: 4 kernels forward on a GPU, one pass on the CPU; 1 backward), sigmoidCrossEntropy and meanSquaredError.

import { constant, input, scalar, select } from '../../compiler/expr.js';
import { backendOf, deviceOf, dispatchStats } from '../array/backend.js';
import { NDArray, TYPED, shapeStr, type Device } from '../array/ndarray.js';
import { array, elementwise as runElementwise, reduce } from '../array/xp.js';
import { config } from '../graph/config.js';
import { FunctionNode, Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { logSoftmax } from './activation.js';
import { BOOLEAN, INTEGER, checkOptions, oneOf } from './options.js';
import { elementwise } from './elementwise.js';
import { exp, mul, sub } from './arithmetic.js';
import { reshape, sum, transpose } from './shape.js';
import { libraryKernels } from '../array/library-kernels.js';

export interface SoftmaxCrossEntropyOptions {
  /** Divide by the number of non-ignored labels (true, Chainer's default) or by the batch size. */
  normalize?: boolean;
  /** Samples with this label contribute nothing (default -1). */
  ignoreLabel?: number;
  /** 'mean' gives a scalar; 'no' gives the per-sample loss. */
  reduce?: 'mean' | 'no';
}

const SOFTMAX_CROSS_ENTROPY_OPTIONS = { normalize: BOOLEAN, ignoreLabel: INTEGER, reduce: oneOf('mean', 'no') };

/**
 * Cross entropy of softmax(x) against integer labels t. x is (N, C) or (N, C, d1, ...)
 * with the classes on axis 1; t is int32 (N,) or (N, d1, ...).
 */
export function softmaxCrossEntropy(x: VariableLike, t: VariableLike, opts: SoftmaxCrossEntropyOptions = {}): Variable {
  checkOptions('softmaxCrossEntropy', opts, SOFTMAX_CROSS_ENTROPY_OPTIONS);
  const { normalize = true, ignoreLabel = -1, reduce: mode = 'mean' } = opts;
  const xv = argVariable(x, 'softmaxCrossEntropy', 'x'), tv = argVariable(t, 'softmaxCrossEntropy', 't');
  if (tv.dtype !== 'int32') {
    throw new Error(`softmaxCrossEntropy: t must be an int32 array of labels, got ${tv.dtype} t ${shapeStr(tv.shape)}`);
  }
  if (xv.ndim < 2) throw new Error(`softmaxCrossEntropy: x must be (N, C, ...), got x ${shapeStr(xv.shape)}`);
  const expected = [xv.shape[0], ...xv.shape.slice(2)];
  if (tv.ndim !== expected.length || tv.shape.some((n, i) => n !== expected[i])) {
    throw new Error(`softmaxCrossEntropy: t ${shapeStr(tv.shape)} does not match x ${shapeStr(xv.shape)}: expected t ${shapeStr(expected)}`);
  }
  // checked here, or the error would name an op inside
  deviceOf([xv.data, tv.data], 'softmaxCrossEntropy', ['x', 't']);
  const c = xv.shape[1];
  // Checking labels means reading them; on a GPU that would stall every step, so there an
  // out-of-range label silently contributes nothing (as in Chainer's non-debug mode).
  if (tv.data.device === 'cpu') {
    // read in place where t is contiguous (a batch's labels), not through a copy
    const td = tv.data, labels = td.isContiguous ? td.buffer.subarray(td.offset, td.offset + td.size) : td.toFlat();
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i];
      if (l !== ignoreLabel && (l < 0 || l >= c)) {
        throw new Error(`softmaxCrossEntropy: label ${l} in t is outside [0, ${c}) and is not the ignore label ${ignoreLabel}`);
      }
    }
  }
  // classes last, samples flattened: (M, C) against (M,)
  const x2 = xv.ndim === 2 ? xv : reshape(transpose(xv, [0, ...xv.shape.slice(2).map((_, i) => i + 2), 1]), [-1, c]);
  const t1 = reshape(tv, [-1]);
  const kind = mode === 'no' ? 'no' : normalize ? 'mean' : 'batch';
  const [loss] = new SoftmaxCrossEntropy(ignoreLabel, kind, tv.shape[0]).apply([x2, t1]);
  return mode === 'no' ? reshape(loss, tv.shape) : loss;
}

/*
 * The fused softmax cross entropy over (M, C) logits x and (M,) labels t. With m = max_c x and
 * s = sum_c exp(x - m) (one reduction each), a sample's loss is m + log s - x[t], picked by
 * comparing a (1, C) row of class indices with t (the IR has no index expression) and summed
 * in the same reduction that divides by the valid count. Forward: 4 kernels ('mean'; 3
 * otherwise) where the composed ops took 12; backward: ONE kernel,
 * (exp(x - m) / s - [c = t]) [t != ignore] g. m, s and the count are kept for backward.
 */
const X = input(0), M = input(1), S = input(2), CLS = input(3), T = input(4);
/** [c = t and t != ignore] (ignore = scalar(0)) */
const HIT = select(T.ne(scalar(0)), CLS.eq(T), 0);
const SAMPLE_LOSS = select(HIT, M.add(S.log()).sub(X), 0);
/** softmax - onehot for the valid rows, 0 for ignored ones */
const DELTA = select(T.ne(scalar(0)), X.sub(M).exp().div(S).sub(select(CLS.eq(T), 1, 0)), 0);

// A built app creates the default ('mean') loss's kernels in the background (array/library-kernels.ts):
// float32 logits (rows, C), int32 labels; the four reductions of forward and backward's one kernel.
const SHIFTED_EXP = X.sub(M).exp();
const VALID = input(0).ne(scalar(0));
const MEAN_LOSS = SAMPLE_LOSS.div(input(5).max(1));
const MEAN_GRAD = DELTA.mul(input(5)).div(input(6).max(1));
libraryKernels(() => [
  { reduce: 'max', map: X, inputs: ['float32'], output: 'float32', kept: 1, reduced: 1 },
  { reduce: 'sum', map: SHIFTED_EXP, inputs: ['float32', 'float32'], output: 'float32', kept: 1, reduced: 1 },
  { reduce: 'sum', map: VALID, inputs: ['int32'], output: 'float32', kept: 1, reduced: 1 },
  { reduce: 'sum', map: MEAN_LOSS, inputs: ['float32', 'float32', 'float32', 'int32', 'int32', 'float32'], output: 'float32', kept: 1, reduced: 2 },
  { roots: [MEAN_GRAD], inputs: ['float32', 'float32', 'float32', 'int32', 'int32', 'float32', 'float32'], outputs: ['float32'] },
]);

/** The class indices 0..C-1 as a (1, C) int32 row, kept per C on the CPU and uploaded per call (no kernel). */
const classRows = new Map<number, NDArray>();
function classRow(c: number, device: Device): NDArray {
  let row = classRows.get(c);
  if (row === undefined) {
    row = array(Int32Array.from({ length: c }, (_, i) => i), [1, c]);
    classRows.set(c, row);
  }
  return device === 'cpu' ? row : row.to(device);
}

class SoftmaxCrossEntropy extends FunctionNode {
  readonly label = 'softmaxCrossEntropy';
  /** m (M, 1), s (M, 1), the class row (1, C), and for 'mean' the valid count (1, 1) */
  private saved: NDArray[] = [];
  /** exp(x - m) of every element, from forwardCpu: gradCpu's softmax without a second exp per element */
  private exps: Float64Array | null = null;

  constructor(readonly ignoreLabel: number, readonly kind: 'mean' | 'batch' | 'no', readonly batch: number) { super(); }

  override get retainedArrays(): readonly NDArray[] { return [...super.retainedArrays, ...this.saved]; }

  forward([x, t]: readonly NDArray[]): NDArray[] {
    if (x.device === 'cpu') return this.forwardCpu(x, t);
    const [rows, c] = x.shape, be = backendOf(x.device), dtype = x.dtype;
    const t2 = t.reshape([rows, 1]), cls = classRow(c, x.device), ign = this.ignoreLabel;
    const m = be.reduce('max', X, [x], [], [rows, c], [1], dtype);
    const s = be.reduce('sum', SHIFTED_EXP, [x, m], [], [rows, c], [1], dtype);
    this.saved = [m, s, cls];
    const ins = [x, m, s, cls, t2];
    if (this.kind === 'no') return [be.reduce('sum', SAMPLE_LOSS, ins, [ign], [rows, c], [1], dtype).reshape([rows])];
    if (this.kind === 'batch') return [be.reduce('sum', SAMPLE_LOSS.mul(scalar(1)), ins, [ign, 1 / Math.max(this.batch, 1)], [rows, c], [0, 1], dtype).reshape([])];
    // divided by max(count, 1) inside the sum: kept on the device, no read back mid-step
    const count = be.reduce('sum', VALID, [t2], [ign], [rows, 1], [0, 1], dtype);
    this.saved.push(count);
    return [be.reduce('sum', MEAN_LOSS, [...ins, count], [ign], [rows, c], [0, 1], dtype).reshape([])];
  }

  /**
   * The forward above on the CPU, as one pass per row instead of four kernels (each a JS loop
   * with its own exp or log per element: 3000 transcendental calls for a (100, 10) batch, 10x
   * the useful ones). The same arithmetic in the same order as those JS loops: max in x's
   * dtype, sums in float64 stored in x's dtype, the loss summed term by term in row-major
   * order; and it saves the same m, s, class row and count for backward. One kernel.
   */
  private forwardCpu(x: NDArray, t: NDArray): NDArray[] {
    const [rows, c] = x.shape, dtype = x.dtype, ign = this.ignoreLabel;
    const xb = x.buffer as Float32Array | Float64Array, [xs0, xs1] = x.strides, tb = t.buffer as Int32Array, ts = t.strides[0];
    const m = new NDArray(new TYPED[dtype](rows), [rows, 1]), s = new NDArray(new TYPED[dtype](rows), [rows, 1]);
    const mb = m.buffer, sb = s.buffer;
    const exps = (this.exps = new Float64Array(rows * c));
    let count = 0;
    for (let i = 0; i < rows; i++) {
      const o = x.offset + i * xs0;
      let mi = -Infinity;
      for (let j = 0; j < c; j++) {
        const v = xb[o + j * xs1];
        mi = v > mi || v !== v ? v : mi; // a NaN stays, as in the max reduction
      }
      mb[i] = mi;
      const mr = mb[i];
      let acc = 0;
      for (let j = 0; j < c; j++) {
        const e = Math.exp(xb[o + j * xs1] - mr);
        exps[i * c + j] = e;
        acc += e;
      }
      sb[i] = acc;
      if (tb[t.offset + i * ts] !== ign) count += 1;
    }
    dispatchStats.count++;
    const counted = new NDArray(new TYPED[dtype]([count]), [1, 1]);
    this.saved = this.kind === 'mean' ? [m, s, classRow(c, 'cpu'), counted] : [m, s, classRow(c, 'cpu')];
    // the sample losses (m + log s - x[t]), scaled as the reductions scale each term
    const scale = this.kind === 'mean' ? Math.max(counted.buffer[0], 1) : 1, per = 1 / Math.max(this.batch, 1);
    const perRow = this.kind === 'no' ? new TYPED[dtype](rows) : null;
    let total = 0;
    for (let i = 0; i < rows; i++) {
      const label = tb[t.offset + i * ts];
      if (label === ign || label < 0 || label >= c) continue; // an out-of-range label matches no class
      const term = mb[i] + Math.log(sb[i]) - xb[x.offset + i * xs0 + label * xs1];
      if (perRow !== null) perRow[i] = term;
      else total += this.kind === 'mean' ? term / scale : term * per;
    }
    return [perRow !== null ? new NDArray(perRow, [rows]) : new NDArray(new TYPED[dtype]([total]), [])];
  }

  backward(_targets: readonly number[], [gy]: readonly Variable[]): (Variable | null)[] {
    const [x, t] = this.inputs;
    const [rows, c] = x.shape;
    const [m, s, cls, count] = this.saved;
    const t2 = t.data.reshape([rows, 1]);
    if (config.enableBackprop) return [this.differentiableGrad(x, t2, gy)];
    if (x.data.device === 'cpu') return [new Variable(this.gradCpu(x.data, t.data, gy.data), { requiresGrad: false })];
    // g per row: gy / max(count, 1), gy / N, or the row's own gy
    const g = this.kind === 'mean' ? MEAN_GRAD : this.kind === 'batch' ? DELTA.mul(input(5)).mul(scalar(1)) : DELTA.mul(input(5));
    const gyData = this.kind === 'no' ? gy.data.reshape([rows, 1]) : gy.data;
    const ins = [x.data, m, s, cls, t2, gyData, ...(this.kind === 'mean' ? [count] : [])];
    const [gx] = backendOf(x.data.device).elementwise([g], ins, [this.ignoreLabel, 1 / Math.max(this.batch, 1)], [rows, c], x.dtype);
    return [new Variable(gx, { requiresGrad: false })];
  }

  /** backward's kernel on the CPU, as one loop: (exp(x - m) / s - [c = t]) [t != ignore] g, in float64 like the JS kernel, with forwardCpu's exps. */
  private gradCpu(x: NDArray, t: NDArray, gy: NDArray): NDArray {
    const [rows, c] = x.shape, ign = this.ignoreLabel;
    const [, s, , count] = this.saved;
    const tb = t.buffer, ts = t.strides[0];
    const sb = s.buffer, gb = gy.buffer, exps = this.exps!;
    const gx = new TYPED[x.dtype](rows * c);
    dispatchStats.count++;
    const div = this.kind === 'mean' ? Math.max(count.buffer[0], 1) : 1, per = 1 / Math.max(this.batch, 1);
    for (let i = 0; i < rows; i++) {
      const label = tb[t.offset + i * ts];
      if (label === ign) continue;
      const g = this.kind === 'no' ? gb[gy.offset + i * gy.strides[0]] : gb[gy.offset];
      const si = sb[i];
      for (let j = 0; j < c; j++) {
        // the forward's exp(x - m), the very float64 the JS kernel would compute again
        const delta = exps[i * c + j] / si - (j === label ? 1 : 0);
        gx[i * c + j] = this.kind === 'mean' ? (delta * g) / div : this.kind === 'batch' ? delta * g * per : delta * g;
      }
    }
    return new NDArray(gx, [rows, c]);
  }

  /** The same gradient from differentiable ops, for enableDoubleBackprop (m and s depend on x). */
  private differentiableGrad(x: Variable, t2: NDArray, gy: Variable): Variable {
    const [rows, c] = x.shape, be = backendOf(x.data.device);
    const cls = this.saved[2];
    const [onehot] = be.elementwise([select(input(1).ne(scalar(0)), select(input(0).eq(input(1)), 1, 0), 0)], [cls, t2], [this.ignoreLabel], [rows, c], x.dtype);
    const [valid] = be.elementwise([input(0).ne(scalar(0))], [t2], [this.ignoreLabel], [rows, 1], x.dtype);
    const delta = mul(sub(exp(logSoftmax(x, 1)), onehot), valid);
    if (this.kind === 'no') return mul(delta, reshape(gy, [rows, 1]));
    if (this.kind === 'batch') return mul(delta, mul(gy, 1 / Math.max(this.batch, 1)));
    const [scale] = be.elementwise([constant(1).div(input(0).max(1))], [this.saved[3].reshape([])], [], [], x.dtype);
    return mul(delta, mul(gy, scale));
  }
}

/** mean((x0 - x1)^2) over all elements. */
export function meanSquaredError(x0: VariableLike, x1: VariableLike): Variable {
  const a = argVariable(x0, 'meanSquaredError', 'x0'), b = argVariable(x1, 'meanSquaredError', 'x1');
  if (a.ndim !== b.ndim || a.shape.some((n, i) => n !== b.shape[i])) {
    throw new Error(`meanSquaredError: x0 ${shapeStr(a.shape)} and x1 ${shapeStr(b.shape)} must have the same shape`);
  }
  deviceOf([a.data, b.data], 'meanSquaredError', ['x0', 'x1']);
  const d = sub(a, b);
  return mul(sum(mul(d, d)), 1 / a.size);
}

export interface SigmoidCrossEntropyOptions {
  /** Divide by the number of labels that are not -1 (true, Chainer's default) or by the batch size. */
  normalize?: boolean;
  /** 'mean' gives a scalar; 'no' gives the per-element loss (0 where t is -1). */
  reduce?: 'mean' | 'no';
}

/*
 * -(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))) written as max(x, 0) - x t + log(1 + e^-|x|),
 * so neither tail overflows. The two kinks at 0 take the x >= 0 side together (selects, not
 * max/abs), so the gradient there is sigmoid(0) - t, as in Chainer. Labels of -1 count for nothing.
 */
const sigmoidCrossEntropyOp = elementwise({
  name: 'sigmoidCrossEntropy', args: ['x', 't'],
  build: (x, t) => {
    const pos = x.ge(0);
    const loss = select(pos, x, 0).sub(x.mul(t)).add(select(pos, x.neg(), x).exp().add(1).log());
    return select(t.ne(-1), loss, 0);
  },
});

/**
 * Binary cross entropy of sigmoid(x) against int32 labels t (0, 1, or -1 to ignore), of the
 * same shape as x (Chainer's F.sigmoid_cross_entropy). 'mean' sums the loss and divides by the
 * number of labels that are not -1 (`normalize`, default) or by x.shape[0].
 */
export function sigmoidCrossEntropy(x: VariableLike, t: VariableLike, opts: SigmoidCrossEntropyOptions = {}): Variable {
  checkOptions('sigmoidCrossEntropy', opts, { normalize: BOOLEAN, reduce: oneOf('mean', 'no') });
  const { normalize = true, reduce: mode = 'mean' } = opts;
  const xv = argVariable(x, 'sigmoidCrossEntropy', 'x'), tv = argVariable(t, 'sigmoidCrossEntropy', 't');
  if (tv.dtype !== 'int32') {
    throw new Error(`sigmoidCrossEntropy: t must be an int32 array of labels (0, 1 or -1), got ${tv.dtype} t ${shapeStr(tv.shape)}`);
  }
  if (xv.dtype === 'int32') throw new Error(`sigmoidCrossEntropy: x must be a float array, got int32 x ${shapeStr(xv.shape)}`);
  if (tv.ndim !== xv.ndim || tv.shape.some((n, i) => n !== xv.shape[i])) {
    throw new Error(`sigmoidCrossEntropy: t ${shapeStr(tv.shape)} must have the shape of x ${shapeStr(xv.shape)}`);
  }
  deviceOf([xv.data, tv.data], 'sigmoidCrossEntropy', ['x', 't']);
  const loss = sigmoidCrossEntropyOp(xv, tv);
  if (mode === 'no') return loss;
  if (!normalize) return mul(sum(loss), 1 / Math.max(xv.shape[0] ?? 1, 1));
  // 1 / max(count, 1), kept on the device: no read back in the middle of a step
  const [scale] = runElementwise([constant(1).div(input(0).max(1))], [reduce('sum', tv.data, undefined, false, input(0).ne(constant(-1)))], [], { dtype: xv.dtype });
  return mul(sum(loss), scale);
}
