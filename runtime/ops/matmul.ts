// Matrix products: matmul (batched, with transpose flags; kernels under matmul/) and linear, whose bias add rides in the matmul kernel.

import { deviceOf } from '../array/backend.js';
import { NDArray, shapeStr, sizeOf } from '../array/ndarray.js';
import { FunctionNode, Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { input, select } from '../../compiler/expr.js';
import { relu as reluOp } from './activation.js';
import { add } from './arithmetic.js';
import { applyExpr } from './elementwise.js';
import { checkOptions, oneOf } from './options.js';
import { biasEpilogueFits, linearBackwardArrays, matmulArray } from './matmul/kernels.js';
import { config } from '../graph/config.js';
import { reshape, sum } from './shape.js';
import { libraryKernels } from '../array/library-kernels.js';

/** gy where the retained relu output y > 0 (gy = input(0), y = input(1)): linear's relu epilogue's backward */
const RELU_GRAD = select(input(1).le(0), 0, input(0));
// a built app creates it in the background (fusion/background.ts), with matmul's own kernels (matmul/webgpu.ts)
libraryKernels(() => [{ roots: [RELU_GRAD], inputs: ['float32', 'float32'], outputs: ['float32'] }]);

class MatMul extends FunctionNode {
  readonly label = 'matmul';
  constructor(private readonly transA: boolean, private readonly transB: boolean) { super(); }

  override checkInputs([a, b]: readonly NDArray[]): void {
    const shapes = `a ${shapeStr(a.shape)}${this.transA ? ' (transposed)' : ''} and b ${shapeStr(b.shape)}${this.transB ? ' (transposed)' : ''}`;
    if (a.ndim < 2 || b.ndim < 2) throw new Error(`matmul: expected arrays of at least 2 dims, got ${shapes}`);
    if (a.ndim !== b.ndim || a.shape.slice(0, -2).some((n, i) => n !== b.shape[i])) {
      throw new Error(`matmul: batch dimensions differ: ${shapes}`);
    }
    const k1 = a.shape[a.ndim - (this.transA ? 2 : 1)];
    const k2 = b.shape[b.ndim - (this.transB ? 1 : 2)];
    if (k1 !== k2) throw new Error(`matmul: inner dimensions ${k1} and ${k2} do not match: ${shapes}`);
    if (a.dtype === 'int32' || b.dtype === 'int32') throw new Error(`matmul: expected float arrays, got a ${a.dtype} and b ${b.dtype}`);
    if (a.dtype !== b.dtype) throw new Error(`matmul: dtypes differ: a ${a.dtype} and b ${b.dtype}`);
  }

  forward([a, b]: readonly NDArray[]): NDArray[] { return [matmulArray(a, b, this.transA, this.transB)]; }

  backward(targets: readonly number[], [gy]: readonly Variable[]): Variable[] {
    const [a, b] = this.inputs;
    const { transA: ta, transB: tb } = this;
    // C = op(A) op(B)  =>  dop(A) = gy op(B)^T, dop(B) = op(A)^T gy, transposed back when op is.
    return targets.map((i) => i === 0
      ? (ta ? matmul(b, gy, tb, true) : matmul(gy, b, false, !tb))
      : (tb ? matmul(gy, a, true, ta) : matmul(a, gy, !ta, false)));
  }
}

/**
 * y = x W^T + b in ONE kernel: the matmul adds b as it stores (the epilogue), where the
 * composed matmul + add took two and a temporary. Backward is matmul's and add's.
 */
class Linear extends FunctionNode {
  readonly label = 'linear';
  /** relu(x W^T + b) in the same kernel: the activation as part of the epilogue */
  constructor(private readonly relu: boolean) { super(); }

  forward([x, W, b]: readonly NDArray[]): NDArray[] {
    if (this.relu) this.retainOutputs([0]);
    return [matmulArray(x, W, false, true, b, this.relu)];
  }

  // gx reads W, gW reads x, gb reads neither
  protected override inputsReadByBackward(targets: readonly number[]): number[] {
    return targets.flatMap((i) => (i === 0 ? [1] : i === 1 ? [0] : []));
  }

  backward(targets: readonly number[], [gyOut]: readonly Variable[]): Variable[] {
    const [x, W] = this.inputs;
    if (!config.enableBackprop) {
      // no graph to record: where the device has it, mask, both products and the bias sum
      // as one kernel over one copy of gy (the composed ops below stage gy three times)
      const want = { gx: targets.includes(0), gW: targets.includes(1), gb: targets.includes(2) };
      const g = linearBackwardArrays(gyOut.data, this.relu ? this.retainedArrays[0] : undefined, x.data, W.data, want);
      if (g !== undefined) return targets.map((i) => new Variable((i === 0 ? g.gx : i === 1 ? g.gW : g.gb)!, { requiresGrad: false }));
    }
    // relu's gradient from its output (y <= 0 exactly where x W^T + b <= 0), one kernel,
    // itself differentiable in gy for double backward
    const gy = this.relu ? applyExpr('grad(relu)', RELU_GRAD, [gyOut, this.retainedOutputs[0]], []) : gyOut;
    return targets.map((i) => (i === 0 ? matmul(gy, W) : i === 1 ? matmul(gy, x, true, false) : sum(gy, 0)));
  }
}

/**
 * y = op(a) @ op(b) over the last two axes, where op transposes when the flag is set;
 * leading (batch) axes must be equal.
 */
export function matmul(a: VariableLike, b: VariableLike, transA = false, transB = false): Variable {
  if (typeof transA !== 'boolean' || typeof transB !== 'boolean') {
    throw new Error(`matmul: transA and transB must be booleans, got ${typeof transA} and ${typeof transB}`);
  }
  return new MatMul(transA, transB).apply([argVariable(a, 'matmul', 'a'), argVariable(b, 'matmul', 'b')])[0];
}

export interface LinearOptions {
  /**
   * 'relu': relu(x W^T + b), the activation done by the matmul kernel as it stores (one
   * kernel forward) where the device's kernel can take the bias; F.relu(F.linear(...)) otherwise.
   */
  activation?: 'relu';
}

/** built once: linear runs on every layer of every step */
const LINEAR_OPTIONS = { activation: oneOf('relu') };

/**
 * y = x W^T + b, with x flattened to (batch, features) as in Chainer's linear;
 * W is (out, in), b is (out,) or omitted. `opts.activation` folds a following relu in.
 */
export function linear(x: VariableLike, W: VariableLike, b?: VariableLike, opts: LinearOptions = {}): Variable {
  checkOptions('linear', opts, LINEAR_OPTIONS);
  const relu = opts.activation === 'relu';
  const xv = argVariable(x, 'linear', 'x'), Wv = argVariable(W, 'linear', 'W');
  if (Wv.ndim !== 2) throw new Error(`linear: W must be 2-D (out, in), got W ${shapeStr(Wv.shape)}`);
  if (xv.ndim < 1) throw new Error(`linear: x must have a batch axis, got x ${shapeStr(xv.shape)}`);
  // counted from the feature axes, not size / batch: an empty batch has 0 / 0 = NaN of those
  const inSize = xv.ndim === 1 ? xv.size : sizeOf(xv.shape.slice(1));
  if (inSize !== Wv.shape[1]) {
    throw new Error(`linear: x ${shapeStr(xv.shape)} has ${inSize} features per sample but W ${shapeStr(Wv.shape)} expects ${Wv.shape[1]}`);
  }
  const bv = b === undefined ? undefined : argVariable(b, 'linear', 'b');
  if (bv !== undefined && (bv.ndim !== 1 || bv.shape[0] !== Wv.shape[0])) {
    throw new Error(`linear: b ${shapeStr(bv.shape)} does not match W ${shapeStr(Wv.shape)}: expected b (${Wv.shape[0]},)`);
  }
  // checked here, or the error would name the matmul or add inside
  deviceOf(bv === undefined ? [xv.data, Wv.data] : [xv.data, Wv.data, bv.data], 'linear', ['x', 'W', 'b']);
  const x2 = xv.ndim === 2 ? xv : reshape(xv, [xv.ndim === 1 ? 1 : xv.shape[0], inSize]);
  // the fused node where the device's matmul can add b as it stores; otherwise composed
  // (mixed dtypes then fail in matmul with its own message)
  if (bv !== undefined && xv.dtype === Wv.dtype && xv.dtype !== 'int32' && biasEpilogueFits(bv.data, Wv.shape[0], xv.dtype)) {
    return new Linear(relu).apply([x2, Wv, bv])[0];
  }
  const y = matmul(x2, Wv, false, true);
  const z = bv === undefined ? y : add(y, bv);
  return relu ? reluOp(z) : z;
}
