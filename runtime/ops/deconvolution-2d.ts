// deconvolution2d: Chainer's transposed 2-D convolution (stride, pad, outsize, dilate, groups), the adjoint of convolution2d.

import { shapeStr } from '../array/ndarray.js';
import { argVariable, type Variable, type VariableLike } from '../graph/variable.js';
import { add } from './arithmetic.js';
import { floatArgsAndWindow } from './convolution-2d/checks.js';
import { outSize, pair, type Geometry, type Pair } from './convolution-2d/im2col.js';
import { Deconvolution2DNode } from './convolution-2d/nodes.js';
import { reshape } from './shape.js';
import { CHECKED_BELOW, checkOptions } from './options.js';

export interface Deconvolution2DOptions {
  /** Step of the window along (h, w) in the output; default 1. */
  stride?: Pair;
  /** Cells cropped from each side of the output along (h, w); default 0. */
  pad?: Pair;
  /**
   * Output (H, W). Several sizes map to the same input under a stride; default the smallest,
   * s (h - 1) + (k - 1) d + 1 - 2p.
   */
  outsize?: readonly [number, number];
  /** Spacing between the kernel's taps along (h, w); default 1. */
  dilate?: Pair;
  /** Channel groups; default 1. */
  groups?: number;
}

/**
 * The transpose of convolution2d: each x[n, c, i, j] adds x W[c, :, p, q] at output cell
 * (i sy - ph + p dy, j sx - pw + q dx), for x (N, C, h, w), W (C, O/G, kh, kw) and b (O,)
 * or omitted, giving y (N, O, H, W). It is the gradient of convolution2d with respect to
 * its input, and its own gradients are convolutions, so double backward works.
 *
 * ```ts
 * const y = F.deconvolution2d(x, W, b, { stride: 2, pad: 1 }); // x (N, 16, 8, 8), W (16, 3, 4, 4): y (N, 3, 16, 16)
 * ```
 */
export function deconvolution2d(x: VariableLike, W: VariableLike, b?: VariableLike, opts: Deconvolution2DOptions = {}): Variable {
  const op = 'deconvolution2d';
  checkOptions(op, opts, { stride: CHECKED_BELOW, pad: CHECKED_BELOW, outsize: CHECKED_BELOW, dilate: CHECKED_BELOW, groups: CHECKED_BELOW });
  const xv = argVariable(x, op, 'x'), Wv = argVariable(W, op, 'W');
  const bv = b === undefined ? undefined : argVariable(b, op, 'b');
  if (xv.ndim !== 4) throw new Error(`${op}: x must be 4-D (N, C, h, w), got x ${shapeStr(xv.shape)}`);
  if (Wv.ndim !== 4) throw new Error(`${op}: W must be 4-D (in, out / groups, kh, kw), got W ${shapeStr(Wv.shape)}`);
  const groups = opts.groups ?? 1;
  const [n, c, h, w] = xv.shape, [ci, og, kh, kw] = Wv.shape;
  if (ci !== c) throw new Error(`${op}: x ${shapeStr(xv.shape)} has ${c} channels but W ${shapeStr(Wv.shape)} takes ${ci}`);
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    throw new Error(`${op}: groups must be a positive integer dividing x's ${c} channels, got ${groups}`);
  }
  const o = og * groups;
  if (bv !== undefined && (bv.ndim !== 1 || bv.shape[0] !== o)) {
    throw new Error(`${op}: b ${shapeStr(bv.shape)} does not match W ${shapeStr(Wv.shape)} with groups ${groups}: expected b (${o},)`);
  }
  const { sy, sx, ph, pw, dy, dx } = floatArgsAndWindow(op, xv, Wv, bv, opts);
  const smallest = (len: number, k: number, s: number, p: number, d: number) => s * (len - 1) + (k - 1) * d + 1 - 2 * p;
  const [H, Wd] = opts.outsize === undefined
    ? [smallest(h, kh, sy, ph, dy), smallest(w, kw, sx, pw, dx)]
    : pair(op, 'outsize', opts.outsize, 1);
  // the output must be one that a convolution with this geometry maps back onto x's size
  if (H < 1 || Wd < 1 || outSize(H, kh, sy, ph, dy) !== h || outSize(Wd, kw, sx, pw, dx) !== w) {
    throw new Error(`${op}: outsize (${H}, ${Wd}) does not fit x ${shapeStr(xv.shape)} with W ${shapeStr(Wv.shape)}, stride (${sy}, ${sx}), pad (${ph}, ${pw}), dilate (${dy}, ${dx}): a convolution would map it to (${outSize(H, kh, sy, ph, dy)}, ${outSize(Wd, kw, sx, pw, dx)}), not (${h}, ${w})`);
  }
  if (n === 0) throw new Error(`${op}: x ${shapeStr(xv.shape)} is an empty batch`);
  const g: Geometry = { kh, kw, sy, sx, ph, pw, dy, dx, groups };
  const y = new Deconvolution2DNode(g, H, Wd).apply([xv, Wv])[0];
  return bv === undefined ? y : add(y, reshape(bv, [1, o, 1, 1]));
}
