// unpooling2d: Chainer's 2-D unpooling, each cell copied over its window: the transposed convolution of each channel with a kernel of ones.

import { shapeStr } from '../array/ndarray.js';
import { full } from '../array/xp.js';
import { Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { outSize, pair, type Pair } from './convolution-2d/im2col.js';
import { Deconvolution2DNode } from './convolution-2d/nodes.js';
import { reshape } from './shape.js';
import { BOOLEAN, CHECKED_BELOW, checkOptions } from './options.js';

export interface Unpooling2DOptions {
  /** Step of the window along (h, w) in the output; default ksize. */
  stride?: Pair;
  /** Cells cropped from each side of the output along (h, w); default 0. */
  pad?: Pair;
  /** Output (H, W); default the size a pooling with these settings would have come from. */
  outsize?: readonly [number, number];
  /** Whether that pooling rounded its output size up (default true, as in Chainer). */
  coverAll?: boolean;
}

/**
 * The inverse of pooling's shape: y (N, C, H, W) is the sum, over x's cells (i, j), of
 * x[n, c, i, j] copied into the window rows i sy - ph .. + kh - 1, columns j sx - pw .. + kw - 1
 * (overlapping windows add up; cells outside y are dropped). Default output size
 * sy (h - 1) + kh - 2 ph, or with `coverAll` sy (h - 1) + kh - sy + 1 - 2 ph. The gradient is
 * the sum of gy over each window, a convolution with ones, so double backward works.
 *
 * ```ts
 * const y = F.unpooling2d(x, 2, { coverAll: false }); // (N, C, 12, 12) -> (N, C, 24, 24)
 * ```
 */
export function unpooling2d(x: VariableLike, ksize: Pair, opts: Unpooling2DOptions = {}): Variable {
  const op = 'unpooling2d';
  checkOptions(op, opts, { stride: CHECKED_BELOW, pad: CHECKED_BELOW, outsize: CHECKED_BELOW, coverAll: BOOLEAN });
  const xv = argVariable(x, op, 'x');
  if (xv.ndim !== 4) throw new Error(`${op}: x must be 4-D (N, C, h, w), got x ${shapeStr(xv.shape)}`);
  if (xv.dtype === 'int32') throw new Error(`${op}: expected a float array, got x int32`);
  const [kh, kw] = pair(op, 'ksize', ksize, 1);
  const [sy, sx] = pair(op, 'stride', opts.stride ?? [kh, kw], 1);
  const [ph, pw] = pair(op, 'pad', opts.pad ?? 0, 0);
  const coverAll = opts.coverAll ?? true;
  const [n, c, h, w] = xv.shape;
  const deconvSize = (len: number, k: number, s: number, p: number) => s * (len - 1) + k - 2 * p - (coverAll ? s - 1 : 0);
  const [H, W] = opts.outsize === undefined ? [deconvSize(h, kh, sy, ph), deconvSize(w, kw, sx, pw)] : pair(op, 'outsize', opts.outsize, 1);
  // the output must be one that pooling with these settings maps back onto x's size
  if (H < 1 || W < 1 || outSize(H, kh, sy, ph, 1, coverAll) !== h || outSize(W, kw, sx, pw, 1, coverAll) !== w) {
    throw new Error(`${op}: outsize (${H}, ${W}) does not fit x ${shapeStr(xv.shape)} with ksize (${kh}, ${kw}), stride (${sy}, ${sx}), pad (${ph}, ${pw}), coverAll ${coverAll}: pooling would map it to (${outSize(H, kh, sy, ph, 1, coverAll)}, ${outSize(W, kw, sx, pw, 1, coverAll)}), not (${h}, ${w})`);
  }
  if (n * c === 0) throw new Error(`${op}: x ${shapeStr(xv.shape)} is empty`);
  const ones = new Variable(full([1, 1, kh, kw], 1, xv.dtype, xv.data.device), { requiresGrad: false });
  const geometry = { kh, kw, sy, sx, ph, pw, dy: 1, dx: 1, groups: 1, coverAll };
  const y = new Deconvolution2DNode(geometry, H, W).apply([reshape(xv, [n * c, 1, h, w]), ones])[0];
  return reshape(y, [n, c, H, W]);
}
