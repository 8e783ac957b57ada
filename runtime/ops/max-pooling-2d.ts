// maxPooling2d: Chainer's 2-D max pooling (ksize, stride, pad, coverAll); kernels in max-pooling-2d/.

import { shapeStr, type NDArray } from '../array/ndarray.js';
import { FunctionNode, argVariable, type Variable, type VariableLike } from '../graph/variable.js';
import { outSize, pair, type Pair } from './convolution-2d/im2col.js';
import { gatherAt, maxPool, scatterAt, type Window } from './max-pooling-2d/kernels.js';
import { BOOLEAN, CHECKED_BELOW, checkOptions } from './options.js';

export interface MaxPooling2DOptions {
  /** Step of the window along (h, w); default ksize (windows that do not overlap). */
  stride?: Pair;
  /** Cells of padding on each side along (h, w), never chosen as a max; default 0. */
  pad?: Pair;
  /**
   * Round the output size up, so the last cells are covered even when the windows do not
   * fit evenly (default true, as in Chainer). This is also Caffe's rounding for pooling.
   */
  coverAll?: boolean;
}

class MaxPooling2D extends FunctionNode {
  readonly label = 'maxPooling2d';
  private indexes: NDArray | null = null;
  constructor(private readonly win: Window) { super(); }
  forward([x]: readonly NDArray[]): NDArray[] {
    const [y, idx] = maxPool(x, this.win);
    this.indexes = idx;
    return [y];
  }
  backward(_: readonly number[], [gy]: readonly Variable[]): Variable[] {
    return [new MaxPooling2DGrad(this.win, this.indexes!, this.inputs[0].shape).apply([gy])[0]];
  }
}

/** gx: gy added at the cells forward picked; linear in gy, so its backward gathers at the same cells. */
class MaxPooling2DGrad extends FunctionNode {
  readonly label = 'maxPooling2dGrad';
  constructor(private readonly win: Window, private readonly indexes: NDArray, private readonly shape: readonly number[]) { super(); }
  forward([gy]: readonly NDArray[]): NDArray[] { return [scatterAt(gy, this.indexes, this.shape, this.win)]; }
  backward(_: readonly number[], [ggx]: readonly Variable[]): Variable[] {
    return [new MaxPooling2DGather(this.win, this.indexes).apply([ggx])[0]];
  }
}

/** ggx read at the cells forward picked: max pooling's second-order term, the adjoint of MaxPooling2DGrad. */
class MaxPooling2DGather extends FunctionNode {
  readonly label = 'maxPooling2dGather';
  constructor(private readonly win: Window, private readonly indexes: NDArray) { super(); }
  forward([x]: readonly NDArray[]): NDArray[] { return [gatherAt(x, this.indexes)]; }
  backward(_: readonly number[], [gy]: readonly Variable[]): Variable[] {
    return [new MaxPooling2DGrad(this.win, this.indexes, this.inputs[0].shape).apply([gy])[0]];
  }
}

/**
 * y[n, c, i, j] = max over the window rows i sy - ph .. + kh - 1, columns j sx - pw .. + kw - 1
 * of x (N, C, H, W), padding excluded; the gradient goes to the first maximal cell of each
 * window. Output size floor((H + 2 ph - kh) / sy) + 1, or with `coverAll` (the default)
 * floor((H + 2 ph - kh + sy - 1) / sy) + 1: Caffe's ceil rounding, so a Caffe MAX pooling
 * layer is `maxPooling2d(x, ksize, { stride, pad })` with the default coverAll.
 *
 * ```ts
 * const y = F.maxPooling2d(x, 2); // (N, C, 24, 24) -> (N, C, 12, 12)
 * ```
 */
export function maxPooling2d(x: VariableLike, ksize: Pair, opts: MaxPooling2DOptions = {}): Variable {
  const op = 'maxPooling2d';
  checkOptions(op, opts, { stride: CHECKED_BELOW, pad: CHECKED_BELOW, coverAll: BOOLEAN });
  const xv = argVariable(x, op, 'x');
  if (xv.ndim !== 4) throw new Error(`${op}: x must be 4-D (N, C, H, W), got x ${shapeStr(xv.shape)}`);
  if (xv.dtype === 'int32') throw new Error(`${op}: expected a float array, got x int32`);
  const [kh, kw] = pair(op, 'ksize', ksize, 1);
  const [sy, sx] = pair(op, 'stride', opts.stride ?? [kh, kw], 1);
  const [ph, pw] = pair(op, 'pad', opts.pad ?? 0, 0);
  const coverAll = opts.coverAll ?? true;
  const [, , h, w] = xv.shape;
  const ho = outSize(h, kh, sy, ph, 1, coverAll), wo = outSize(w, kw, sx, pw, 1, coverAll);
  const where = `x ${shapeStr(xv.shape)} with ksize (${kh}, ${kw}), stride (${sy}, ${sx}), pad (${ph}, ${pw}), coverAll ${coverAll}`;
  if (ho < 1 || wo < 1) throw new Error(`${op}: ${where} gives an empty output (${Math.max(0, ho)}, ${Math.max(0, wo)})`);
  // a window of padding alone has no max: refuse it rather than return -Infinity
  if (ph >= kh || pw >= kw || (ho - 1) * sy - ph >= h || (wo - 1) * sx - pw >= w) {
    throw new Error(`${op}: ${where} has windows that lie entirely in the padding; use a pad smaller than ksize`);
  }
  return new MaxPooling2D({ kh, kw, sy, sx, ph, pw, ho, wo }).apply([xv])[0];
}
