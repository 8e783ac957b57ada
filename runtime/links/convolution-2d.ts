// Convolution2D and Deconvolution2D: the 2-D (transposed) convolution layers around F.convolution2d and F.deconvolution2d.

import { shapeStr } from '../array/ndarray.js';
import { type Variable, type VariableLike, argVariable } from '../graph/variable.js';
import { convolution2d, type Convolution2DOptions } from '../ops/convolution-2d.js';
import type { Pair } from '../ops/convolution-2d/im2col.js';
import { deconvolution2d, type Deconvolution2DOptions } from '../ops/deconvolution-2d.js';
import { lecunNormal, zero, type Initializer } from './initializers.js';
import { Link, Parameter } from './link.js';

interface LayerOptions {
  nobias?: boolean;
  /** Default LeCun normal, as Chainer's. */
  initialW?: Initializer;
  /** Default zero. */
  initialBias?: Initializer;
}

export interface Convolution2DLinkOptions extends Convolution2DOptions, LayerOptions {}
export interface Deconvolution2DLinkOptions extends Deconvolution2DOptions, LayerOptions {}

function kernelSize(owner: string, ksize: Pair): [number, number] {
  const k: [number, number] = typeof ksize === 'number' ? [ksize, ksize] : [ksize[0], ksize[1]];
  if (!k.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`${owner}: ksize must be a positive integer or a pair of them, got ${JSON.stringify(ksize)}`);
  return k;
}

function checkChannels(owner: string, inChannels: number | null, outChannels: number, groups: number): void {
  if (!Number.isInteger(outChannels) || outChannels <= 0) throw new Error(`${owner}: outChannels must be a positive integer, got ${outChannels}`);
  if (inChannels !== null && (!Number.isInteger(inChannels) || inChannels <= 0)) throw new Error(`${owner}: inChannels must be a positive integer or null, got ${inChannels}`);
  if (!Number.isInteger(groups) || groups <= 0) throw new Error(`${owner}: groups must be a positive integer, got ${groups}`);
  for (const [name, n] of [['inChannels', inChannels], ['outChannels', outChannels]] as const) {
    if (n !== null && n % groups !== 0) throw new Error(`${owner}: ${name} (${n}) must be divisible by groups (${groups})`);
  }
}

/**
 * y = convolution2d(x, W, b) with W (outChannels, inChannels / groups, kh, kw) (Chainer's
 * L.Convolution2D). inChannels null defers W until the first input shows it.
 *
 * ```ts
 * const conv = new L.Convolution2D(1, 20, 5);          // x (N, 1, 28, 28) -> (N, 20, 24, 24)
 * ```
 */
export class Convolution2D extends Link {
  readonly W: Parameter;
  readonly b: Parameter | null;
  readonly outChannels: number;
  readonly ksize: [number, number];
  readonly conv: Convolution2DOptions;

  constructor(inChannels: number | null, outChannels: number, ksize: Pair, opts: Convolution2DLinkOptions = {}) {
    super();
    const { nobias = false, initialW, initialBias, ...conv } = opts;
    const groups = conv.groups ?? 1;
    checkChannels('Convolution2D', inChannels, outChannels, groups);
    this.outChannels = outChannels;
    this.ksize = kernelSize('Convolution2D', ksize);
    this.conv = conv;
    const init = initialW ?? lecunNormal();
    this.W = inChannels === null ? new Parameter(init) : new Parameter(init, [outChannels, inChannels / groups, ...this.ksize]);
    this.b = nobias ? null : new Parameter(initialBias ?? zero, [outChannels]);
  }

  forward(x: VariableLike): Variable {
    const v = argVariable(x, 'Convolution2D', 'x');
    if (!this.W.isInitialized) {
      if (v.ndim !== 4) throw new Error(`Convolution2D: x must be 4-D (N, C, H, W), got x ${shapeStr(v.shape)}`);
      checkChannels('Convolution2D', v.shape[1], this.outChannels, this.conv.groups ?? 1);
      this.W.initialize([this.outChannels, v.shape[1] / (this.conv.groups ?? 1), ...this.ksize]);
    }
    return convolution2d(v, this.W, this.b ?? undefined, this.conv);
  }
}

/**
 * y = deconvolution2d(x, W, b) with W (inChannels, outChannels / groups, kh, kw) (Chainer's
 * L.Deconvolution2D); `outsize` picks among the output sizes a stride allows.
 *
 * ```ts
 * const up = new L.Deconvolution2D(16, 3, 4, { stride: 2, pad: 1 });  // (N, 16, 8, 8) -> (N, 3, 16, 16)
 * ```
 */
export class Deconvolution2D extends Link {
  readonly W: Parameter;
  readonly b: Parameter | null;
  readonly outChannels: number;
  readonly ksize: [number, number];
  readonly deconv: Deconvolution2DOptions;

  constructor(inChannels: number | null, outChannels: number, ksize: Pair, opts: Deconvolution2DLinkOptions = {}) {
    super();
    const { nobias = false, initialW, initialBias, ...deconv } = opts;
    const groups = deconv.groups ?? 1;
    checkChannels('Deconvolution2D', inChannels, outChannels, groups);
    this.outChannels = outChannels;
    this.ksize = kernelSize('Deconvolution2D', ksize);
    this.deconv = deconv;
    const init = initialW ?? lecunNormal();
    this.W = inChannels === null ? new Parameter(init) : new Parameter(init, [inChannels, outChannels / groups, ...this.ksize]);
    this.b = nobias ? null : new Parameter(initialBias ?? zero, [outChannels]);
  }

  forward(x: VariableLike): Variable {
    const v = argVariable(x, 'Deconvolution2D', 'x');
    if (!this.W.isInitialized) {
      if (v.ndim !== 4) throw new Error(`Deconvolution2D: x must be 4-D (N, C, h, w), got x ${shapeStr(v.shape)}`);
      checkChannels('Deconvolution2D', v.shape[1], this.outChannels, this.deconv.groups ?? 1);
      this.W.initialize([v.shape[1], this.outChannels / (this.deconv.groups ?? 1), ...this.ksize]);
    }
    return deconvolution2d(v, this.W, this.b ?? undefined, this.deconv);
  }
}
