// convolution2d: Chainer's 2-D convolution (stride, pad, dilate, groups); kernels and the nodes' backward in convolution-2d/.

import { shapeStr } from '../array/ndarray.js';
import { argVariable, type Variable, type VariableLike } from '../graph/variable.js';
import { floatArgsAndWindow } from './convolution-2d/checks.js';
import { outSize, type Geometry, type Pair } from './convolution-2d/im2col.js';
import { Convolution2DNode } from './convolution-2d/nodes.js';
import { CHECKED_BELOW, checkOptions } from './options.js';

export interface Convolution2DOptions {
  /** Step of the window along (h, w); default 1. */
  stride?: Pair;
  /** Zeros added on each side along (h, w); default 0. */
  pad?: Pair;
  /** Spacing between the kernel's taps along (h, w); default 1 (no dilation). */
  dilate?: Pair;
  /** Channel groups: input and output channels split into this many independent convolutions; default 1. */
  groups?: number;
}

/**
 * y[n, o, i, j] = b[o] + sum over c in o's group, p, q of
 * W[o, c, p, q] x[n, g(o) C/G + c, i sy - ph + p dy, j sx - pw + q dx] (zero outside x),
 * for x (N, C, H, W), W (O, C/G, kh, kw), b (O,) or omitted; output size
 * floor((H + 2 ph - ((kh - 1) dy + 1)) / sy) + 1, likewise for the width.
 *
 * Its gradients are a transposed convolution (gx) and a convolution of x with gy (gW), both
 * differentiable, so double backward works.
 *
 * ```ts
 * const y = F.convolution2d(x, W, b, { stride: 2, pad: 1 }); // x (N, 3, 32, 32), W (16, 3, 3, 3)
 * ```
 */
export function convolution2d(x: VariableLike, W: VariableLike, b?: VariableLike, opts: Convolution2DOptions = {}): Variable {
  const op = 'convolution2d';
  checkOptions(op, opts, { stride: CHECKED_BELOW, pad: CHECKED_BELOW, dilate: CHECKED_BELOW, groups: CHECKED_BELOW });
  const xv = argVariable(x, op, 'x'), Wv = argVariable(W, op, 'W');
  const bv = b === undefined ? undefined : argVariable(b, op, 'b');
  if (xv.ndim !== 4) throw new Error(`${op}: x must be 4-D (N, C, H, W), got x ${shapeStr(xv.shape)}`);
  if (Wv.ndim !== 4) throw new Error(`${op}: W must be 4-D (out, in / groups, kh, kw), got W ${shapeStr(Wv.shape)}`);
  const groups = opts.groups ?? 1;
  const [n, c, h, w] = xv.shape, [o, cg, kh, kw] = Wv.shape;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0 || o % groups !== 0) {
    throw new Error(`${op}: groups must be a positive integer dividing x's ${c} channels and W's ${o} output channels, got ${groups}`);
  }
  if (cg !== c / groups) {
    throw new Error(`${op}: x ${shapeStr(xv.shape)} has ${c} channels, so W needs ${c / groups} input channels per group (groups ${groups}), got W ${shapeStr(Wv.shape)}`);
  }
  if (bv !== undefined && (bv.ndim !== 1 || bv.shape[0] !== o)) {
    throw new Error(`${op}: b ${shapeStr(bv.shape)} does not match W ${shapeStr(Wv.shape)}: expected b (${o},)`);
  }
  const { sy, sx, ph, pw, dy, dx } = floatArgsAndWindow(op, xv, Wv, bv, opts);
  const ho = outSize(h, kh, sy, ph, dy), wo = outSize(w, kw, sx, pw, dx);
  if (ho < 1 || wo < 1 || n === 0) {
    throw new Error(`${op}: x ${shapeStr(xv.shape)} with W ${shapeStr(Wv.shape)}, stride (${sy}, ${sx}), pad (${ph}, ${pw}), dilate (${dy}, ${dx}) gives an empty output (${n}, ${o}, ${Math.max(0, ho)}, ${Math.max(0, wo)})`);
  }
  const g: Geometry = { kh, kw, sy, sx, ph, pw, dy, dx, groups };
  // the bias is the node's third input: WebGPU adds it inside the GEMM (see convolution-2d/webgpu.ts)
  return new Convolution2DNode(g, bv !== undefined).apply(bv === undefined ? [xv, Wv] : [xv, Wv, bv])[0];
}
