// averagePooling2d: Chainer's 2-D average pooling, composed as a per-channel convolution with a constant 1 / (kh kw) kernel.

import { shapeStr } from '../array/ndarray.js';
import { full } from '../array/xp.js';
import { Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { convolution2d } from './convolution-2d.js';
import { outSize, pair, type Pair } from './convolution-2d/im2col.js';
import { reshape } from './shape.js';
import { CHECKED_BELOW, checkOptions } from './options.js';

export interface AveragePooling2DOptions {
  /** Step of the window along (h, w); default ksize. */
  stride?: Pair;
  /** Zeros added on each side along (h, w); they count in the average. Default 0. */
  pad?: Pair;
}

/**
 * y[n, c, i, j] = (1 / (kh kw)) * sum over the window rows i sy - ph .. + kh - 1, columns
 * j sx - pw .. + kw - 1 of x (N, C, H, W), padding counted as zeros: Chainer's divisor, the
 * full window whether or not it overlaps the padding. Output size floor((H + 2 ph - kh) / sy) + 1.
 *
 * Caffe's AVE pooling differs in two ways: its output size rounds up (ceil, like
 * maxPooling2d's coverAll), and it divides by the part of the window inside the padded
 * image, so a window hanging past the padded border averages over fewer cells. A Caffe
 * loader needs its own divisor there; in windows that lie inside the padded image the two agree.
 *
 * Written as convolution2d of each channel with a constant kernel, so its gradient (and the
 * gradient of that) come from the convolution's.
 *
 * ```ts
 * const y = F.averagePooling2d(x, 2); // (N, C, 24, 24) -> (N, C, 12, 12)
 * ```
 */
export function averagePooling2d(x: VariableLike, ksize: Pair, opts: AveragePooling2DOptions = {}): Variable {
  const op = 'averagePooling2d';
  checkOptions(op, opts, { stride: CHECKED_BELOW, pad: CHECKED_BELOW });
  const xv = argVariable(x, op, 'x');
  if (xv.ndim !== 4) throw new Error(`${op}: x must be 4-D (N, C, H, W), got x ${shapeStr(xv.shape)}`);
  if (xv.dtype === 'int32') throw new Error(`${op}: expected a float array, got x int32`);
  const [kh, kw] = pair(op, 'ksize', ksize, 1);
  const [sy, sx] = pair(op, 'stride', opts.stride ?? [kh, kw], 1);
  const [ph, pw] = pair(op, 'pad', opts.pad ?? 0, 0);
  const [n, c, h, w] = xv.shape;
  const ho = outSize(h, kh, sy, ph), wo = outSize(w, kw, sx, pw);
  if (ho < 1 || wo < 1 || n * c === 0) {
    throw new Error(`${op}: x ${shapeStr(xv.shape)} with ksize (${kh}, ${kw}), stride (${sy}, ${sx}), pad (${ph}, ${pw}) gives an empty output (${n}, ${c}, ${Math.max(0, ho)}, ${Math.max(0, wo)})`);
  }
  const mean = new Variable(full([1, 1, kh, kw], 1 / (kh * kw), xv.dtype, xv.data.device), { requiresGrad: false });
  const y = convolution2d(reshape(xv, [n * c, 1, h, w]), mean, undefined, { stride: [sy, sx], pad: [ph, pw] });
  return reshape(y, [n, c, ho, wo]);
}
