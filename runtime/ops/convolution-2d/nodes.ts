// The three bilinear nodes of 2-D convolution (conv, its transpose, its weight gradient): each one's backward is the other two.

import { input } from '../../../compiler/expr.js';
import { kernelFor, type DeviceKernels } from '../../array/backend.js';
import { NDArray, contiguous } from '../../array/ndarray.js';
import { elementwise, reduce } from '../../array/xp.js';
import { FunctionNode, Variable } from '../../graph/variable.js';
import { matmulArray } from '../matmul/kernels.js';
import { col2im, im2col, outSize, type Geometry } from './im2col.js';
import { convForwardWebgpu, convGradWWebgpu, convTransposeWebgpu } from './webgpu.js';

const dense = (x: NDArray): NDArray => (x.isContiguous ? x : contiguous(x));

/** (N, C, ...) as (C, N ...) in C order: the channel-major layout the GEMMs below read. */
const channelsFirst = (x: NDArray): NDArray => contiguous(x.transpose([1, 0, 2, 3]));

/**
 * On the CPU: y (N, O, ho, wo) = conv(x (N, C, H, W), W (O, C/g, kh, kw)). Per group one GEMM over the
 * whole batch: W_g (O/g, K) @ col_g (K, N ho wo), K = C/g kh kw, so even a batch of small
 * images makes one large product; the result is returned as an (N, O, ho, wo) view of it.
 */
export function convArray(x: NDArray, W: NDArray, g: Geometry): { y: NDArray; col: NDArray } {
  const [n, c, h, w] = x.shape, o = W.shape[0];
  const ho = outSize(h, g.kh, g.sy, g.ph, g.dy, g.coverAll), wo = outSize(w, g.kw, g.sx, g.pw, g.dx, g.coverAll);
  const k = (c / g.groups) * g.kh * g.kw;
  const col = im2col(x, g, ho, wo).reshape([g.groups, k, n * ho * wo]);
  const y = matmulArray(dense(W).reshape([g.groups, o / g.groups, k]), col);
  return { y: y.reshape([o, n, ho, wo]).transpose([1, 0, 2, 3]), col };
}

/**
 * On the CPU, the transpose: y (N, Co, H, W) from x (N, Ci, h, w) and W (Ci, Co/g, kh, kw), where (h, w)
 * is the conv output size of (H, W). The patches W_g^T x_g are summed back by col2im.
 */
export function convTransposeArray(x: NDArray, W: NDArray, g: Geometry, outH: number, outW: number): NDArray {
  const [n, ci, h, w] = x.shape, co = W.shape[1] * g.groups;
  const k = W.shape[1] * g.kh * g.kw;
  const xt = channelsFirst(x).reshape([g.groups, ci / g.groups, n * h * w]);
  const gcol = matmulArray(dense(W).reshape([g.groups, ci / g.groups, k]), xt, true, false);
  return col2im(gcol.reshape([co * g.kh * g.kw, n * h * w]), [n, co, outH, outW], g, h, w);
}

/**
 * On the CPU, gW (O, C/g, kh, kw) of y = conv(x, W) given gy (N, O, ho, wo): gy_g (O/g, N ho wo) @ col_g^T,
 * `col` being im2col(x) when the forward pass kept it.
 */
export function convGradWArray(x: NDArray, gy: NDArray, g: Geometry, kept?: NDArray): NDArray {
  const [n, c] = x.shape, [, o, ho, wo] = gy.shape;
  const k = (c / g.groups) * g.kh * g.kw;
  const col = kept ?? im2col(x, g, ho, wo).reshape([g.groups, k, n * ho * wo]);
  const gyt = channelsFirst(gy).reshape([g.groups, o / g.groups, n * ho * wo]);
  return matmulArray(gyt, col, false, true).reshape([o, c / g.groups, g.kh, g.kw]);
}

// Each device's array kernels for the three nodes. The CPU runs one GEMM over the whole batch
// (the WebAssembly GEMM likes one large product), adding the bias as an elementwise op;
// WebGPU runs per-image GEMMs with the bias folded in (see ./webgpu.ts).

const PLUS_BIAS = input(0).add(input(1));

/** y = conv(x, W) (+ b), and the patches the weight gradient will reuse. */
const FORWARD: DeviceKernels<(x: NDArray, W: NDArray, b: NDArray | undefined, g: Geometry) => { y: NDArray; col: NDArray }> = {
  cpu: (x, W, b, g) => {
    const { y, col } = convArray(x, W, g);
    return { y: b === undefined ? y : elementwise([PLUS_BIAS], [y, b.reshape([1, b.size, 1, 1])])[0], col };
  },
  webgpu: convForwardWebgpu,
};

/** [gW] or [gW, gb] from (x, gy). */
const GRAD_W: DeviceKernels<(x: NDArray, gy: NDArray, g: Geometry, withBias: boolean, kept?: NDArray) => NDArray[]> = {
  cpu: (x, gy, g, withBias, kept) => {
    const gW = convGradWArray(x, gy, g, kept);
    return withBias ? [gW, reduce('sum', gy, [0, 2, 3])] : [gW];
  },
  webgpu: convGradWWebgpu,
};

const TRANSPOSE: DeviceKernels<typeof convTransposeArray> = { cpu: convTransposeArray, webgpu: convTransposeWebgpu };

/** y = conv(x, W) (+ b when `withBias`: inputs [x, W, b]); inputs checked by the public function. */
export class Convolution2DNode extends FunctionNode {
  readonly label = 'convolution2d';
  /** The patches of x, kept for gW: the costliest part to remake. Handed over once. */
  private col: NDArray | null = null;
  constructor(readonly geometry: Geometry, private readonly withBias = false) { super(); }
  forward([x, W, b]: readonly NDArray[]): NDArray[] {
    const { y, col } = kernelFor(FORWARD, x.device)(x, W, this.withBias ? b : undefined, this.geometry);
    this.col = col;
    return [y];
  }
  backward(targets: readonly number[], [gy]: readonly Variable[]): Variable[] {
    const [x, W] = this.inputs, g = this.geometry;
    // the gW node holds the patches from here on (a second backward remakes them)
    const col = this.col ?? undefined;
    this.col = null;
    let grads: Variable[] | null = null;
    const gWb = () => (grads ??= new Convolution2DGradW(g, this.withBias, col).apply([x, gy]));
    return targets.map((i) => (i === 0 ? new Deconvolution2DNode(g, x.shape[2], x.shape[3]).apply([gy, W])[0] : gWb()[i - 1]));
  }
}

/** y = conv^T(x, W) of size (outH, outW): the adjoint of conv(., W) in its first argument. */
export class Deconvolution2DNode extends FunctionNode {
  readonly label = 'deconvolution2d';
  constructor(readonly geometry: Geometry, private readonly outH: number, private readonly outW: number) { super(); }
  forward([x, W]: readonly NDArray[]): NDArray[] { return [kernelFor(TRANSPOSE, x.device)(x, W, this.geometry, this.outH, this.outW)]; }
  backward(targets: readonly number[], [gy]: readonly Variable[]): Variable[] {
    const [x, W] = this.inputs, g = this.geometry;
    // <conv^T(x, W), gy> = <x, conv(gy, W)>: conv gives gx, and gW is conv's weight gradient with gy as its input
    return targets.map((i) => (i === 0
      ? new Convolution2DNode(g).apply([gy, W])[0]
      : new Convolution2DGradW(g).apply([gy, x])[0]));
  }
}

/**
 * gW of conv(x, W) (and gb of the bias, when `withBias`) from (x, gy); bilinear, so its own
 * backward is a transposed conv (for x) and a conv with ggb as its bias (for gy).
 */
export class Convolution2DGradW extends FunctionNode {
  readonly label = 'convolution2dGradW';
  constructor(readonly geometry: Geometry, private readonly withBias = false, private readonly col?: NDArray) { super(); }
  forward([x, gy]: readonly NDArray[]): NDArray[] { return kernelFor(GRAD_W, x.device)(x, gy, this.geometry, this.withBias, this.col); }
  backward(targets: readonly number[], [ggW, ggb]: readonly Variable[]): Variable[] {
    const [x, gy] = this.inputs, g = this.geometry;
    return targets.map((i) => (i === 0
      ? new Deconvolution2DNode(g, x.shape[2], x.shape[3]).apply([gy, ggW])[0]
      : new Convolution2DNode(g, this.withBias).apply(this.withBias ? [x, ggW, ggb] : [x, ggW])[0]));
  }
}
