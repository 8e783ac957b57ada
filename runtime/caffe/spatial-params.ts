// Caffe's Convolution, Deconvolution, Pooling and LRN parameters: validated as Caffe's LayerSetUp does, plus its size rules.

import type { CaffeLayer } from './caffemodel.js';

/** Throws `<where>: layer '<name>' (<type>): <what>`. */
export type Fail = (what: string) => never;

export const layerFail = (layer: CaffeLayer): Fail => (what) => {
  throw new Error(`${layer.where} (${layer.type}): ${what}`);
};

/** Unknown fields inside the layer's own parameter message: parameters kusari does not know. */
export function refuseUnknown(param: { $unknown?: string[] } | undefined, field: string, fail: Fail): void {
  const unknown = param?.$unknown ?? [];
  if (unknown.length > 0) fail(`unsupported parameter ${field}.${unknown[0].replace(/^#/, 'field ')}`);
}

/** Normalised 2-D convolution parameters (Caffe's BaseConvolutionLayer::LayerSetUp). */
export interface ConvolutionSpec {
  readonly numOutput: number;
  readonly biasTerm: boolean;
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly pad: readonly [number, number];
  readonly dilation: readonly [number, number];
  readonly group: number;
}

/** A repeated (h, w) field given as 0, 1 or 2 values, or its *_h/*_w form: never both. */
function pair(
  list: readonly number[] | undefined, h: number | undefined, w: number | undefined, name: string, dflt: number | null, fail: Fail,
): [number, number] {
  const n = list?.length ?? 0;
  if (h !== undefined || w !== undefined) {
    if (n > 0) fail(`convolution_param: give either ${name} or ${name}_h/${name}_w, not both`);
    // Caffe defaults a missing pad_h/pad_w to 0, and requires both kernel_h/kernel_w and stride_h/stride_w
    if (dflt !== 0 && (h === undefined || w === undefined)) fail(`convolution_param: ${name}_h and ${name}_w must be given together`);
    return [h ?? 0, w ?? 0];
  }
  if (n === 0) {
    if (dflt === null) fail(`convolution_param: ${name} is required (kernel_size or kernel_h/kernel_w)`);
    return [dflt, dflt];
  }
  if (n > 2) fail(`convolution_param: ${name} has ${n} values; kusari supports 2-D convolution (1 or 2 values)`);
  return n === 1 ? [list![0], list![0]] : [list![0], list![1]];
}

export function convolutionSpec(layer: CaffeLayer): ConvolutionSpec {
  const fail: Fail = layerFail(layer);
  const p = layer.param.convolution_param ?? {};
  refuseUnknown(p, 'convolution_param', fail);
  if ((p.axis ?? 1) !== 1) fail(`unsupported parameter convolution_param.axis ${p.axis}: only the channel axis 1 is supported`);
  const numOutput = p.num_output ?? 0;
  if (numOutput <= 0) fail(`convolution_param.num_output must be positive, got ${numOutput}`);
  const kernel = pair(p.kernel_size, p.kernel_h, p.kernel_w, 'kernel', null, fail);
  const stride = pair(p.stride, p.stride_h, p.stride_w, 'stride', 1, fail);
  const pad = pair(p.pad, p.pad_h, p.pad_w, 'pad', 0, fail);
  const dilation = pair(p.dilation, undefined, undefined, 'dilation', 1, fail);
  if (kernel.some((k) => k <= 0)) fail(`convolution_param: kernel (${kernel.join(', ')}) must be positive`);
  if (stride.some((s) => s <= 0)) fail(`convolution_param: stride (${stride.join(', ')}) must be positive`);
  if (dilation.some((d) => d <= 0)) fail(`convolution_param: dilation (${dilation.join(', ')}) must be positive`);
  const group = p.group ?? 1;
  if (group <= 0 || numOutput % group !== 0) fail(`convolution_param: num_output ${numOutput} must be a multiple of group ${group}`);
  return { numOutput, biasTerm: p.bias_term ?? true, kernel, stride, pad, dilation, group };
}

/** Caffe's convolution output size along one axis: floor((in + 2p - (d(k-1)+1)) / s) + 1. */
export function convolutionOutSize(size: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((size + 2 * p - (d * (k - 1) + 1)) / s) + 1;
}

/** Deconvolution's: s(in - 1) + d(k-1) + 1 - 2p. */
export function deconvolutionOutSize(size: number, k: number, s: number, p: number, d: number): number {
  return s * (size - 1) + d * (k - 1) + 1 - 2 * p;
}

/** The weight blob shape Caffe expects: (out, in/group, kh, kw), and (in, out/group, kh, kw) for Deconvolution. */
export function convolutionWeightShape(spec: ConvolutionSpec, inChannels: number, transposed: boolean): number[] {
  const [kh, kw] = spec.kernel;
  return transposed ? [inChannels, spec.numOutput / spec.group, kh, kw] : [spec.numOutput, inChannels / spec.group, kh, kw];
}

/** Normalised pooling parameters (Caffe's PoolingLayer::LayerSetUp); kernel null means global pooling. */
export interface PoolingSpec {
  readonly pool: 'MAX' | 'AVE';
  readonly kernel: readonly [number, number] | null;
  readonly stride: readonly [number, number];
  readonly pad: readonly [number, number];
  readonly roundMode: 'CEIL' | 'FLOOR';
}

export function poolingSpec(layer: CaffeLayer): PoolingSpec {
  const fail: Fail = layerFail(layer);
  const p = layer.param.pooling_param ?? {};
  refuseUnknown(p, 'pooling_param', fail);
  const pool = p.pool ?? 'MAX';
  if (pool !== 'MAX' && pool !== 'AVE') fail(`unsupported parameter pooling_param.pool ${pool}: only MAX and AVE are supported`);
  const hasSquare = p.kernel_size !== undefined, hasHW = p.kernel_h !== undefined || p.kernel_w !== undefined;
  let kernel: [number, number] | null = null;
  if (p.global_pooling) {
    if (hasSquare || hasHW) fail('pooling_param: with global_pooling the kernel size cannot be given');
  } else {
    if (hasSquare === hasHW) fail('pooling_param: give kernel_size, or kernel_h and kernel_w (one of the two)');
    if (hasHW && (p.kernel_h === undefined || p.kernel_w === undefined)) fail('pooling_param: kernel_h and kernel_w must be given together');
    kernel = hasSquare ? [p.kernel_size!, p.kernel_size!] : [p.kernel_h!, p.kernel_w!];
    if (kernel.some((k) => k <= 0)) fail(`pooling_param: kernel (${kernel.join(', ')}) must be positive`);
  }
  if (p.pad !== undefined && (p.pad_h !== undefined || p.pad_w !== undefined)) fail('pooling_param: give pad, or pad_h and pad_w, not both');
  if (p.stride !== undefined && (p.stride_h !== undefined || p.stride_w !== undefined)) fail('pooling_param: give stride, or stride_h and stride_w, not both');
  const pad: [number, number] = p.pad_h !== undefined || p.pad_w !== undefined ? [p.pad_h ?? 0, p.pad_w ?? 0] : [p.pad ?? 0, p.pad ?? 0];
  if ((p.stride_h === undefined) !== (p.stride_w === undefined)) fail('pooling_param: stride_h and stride_w must be given together');
  const stride: [number, number] = p.stride_h !== undefined ? [p.stride_h, p.stride_w!] : [p.stride ?? 1, p.stride ?? 1];
  if (stride.some((s) => s <= 0)) fail(`pooling_param: stride (${stride.join(', ')}) must be positive`);
  if (kernel === null && (pad.some((q) => q !== 0) || stride.some((s) => s !== 1))) fail('pooling_param: with global_pooling only pad 0 and stride 1 are allowed');
  if (kernel !== null && (pad[0] >= kernel[0] || pad[1] >= kernel[1])) fail(`pooling_param: pad (${pad.join(', ')}) must be smaller than the kernel (${kernel.join(', ')})`);
  return { pool, kernel, stride, pad, roundMode: p.round_mode ?? 'CEIL' };
}

/** Caffe's pooled size along one axis: ceil((in + 2p - k) / s) + 1, less one if the last window starts in the far padding. */
export function poolingOutSize(size: number, k: number, s: number, p: number, round: 'CEIL' | 'FLOOR' = 'CEIL'): number {
  const q = (size + 2 * p - k) / s;
  let out = (round === 'CEIL' ? Math.ceil(q) : Math.floor(q)) + 1;
  if (p > 0 && (out - 1) * s >= size + p) out--;
  return out;
}

/** The kernel, stride, pad and output size of a pooling on an (h, w) input. */
export function poolingGeometry(spec: PoolingSpec, h: number, w: number): { kernel: [number, number]; outSize: [number, number] } {
  const kernel: [number, number] = spec.kernel === null ? [h, w] : [spec.kernel[0], spec.kernel[1]];
  return {
    kernel,
    outSize: [poolingOutSize(h, kernel[0], spec.stride[0], spec.pad[0], spec.roundMode), poolingOutSize(w, kernel[1], spec.stride[1], spec.pad[1], spec.roundMode)],
  };
}

/**
 * The divisor of Caffe's AVE pooling at every output cell (oh * ow values, row-major): the
 * window clipped to [-pad, size + pad), so padded cells count and cells past the padding do not.
 */
export function averagePoolingDivisor(spec: PoolingSpec, h: number, w: number): Float32Array {
  const { kernel: [kh, kw], outSize: [oh, ow] } = poolingGeometry(spec, h, w);
  const [sh, sw] = spec.stride, [ph, pw] = spec.pad;
  const out = new Float32Array(oh * ow);
  for (let i = 0; i < oh; i++) {
    const rows = Math.min(i * sh - ph + kh, h + ph) - (i * sh - ph);
    for (let j = 0; j < ow; j++) out[i * ow + j] = rows * (Math.min(j * sw - pw + kw, w + pw) - (j * sw - pw));
  }
  return out;
}

/** LRN parameters with Caffe's defaults (local_size 5, alpha 1, beta 0.75, k 1, ACROSS_CHANNELS). */
export interface LrnSpec {
  readonly size: number;
  readonly alpha: number;
  readonly beta: number;
  readonly k: number;
  readonly region: 'ACROSS_CHANNELS' | 'WITHIN_CHANNEL';
}

export function lrnSpec(layer: CaffeLayer): LrnSpec {
  const fail: Fail = layerFail(layer);
  const p = layer.param.lrn_param ?? {};
  refuseUnknown(p, 'lrn_param', fail);
  const size = p.local_size ?? 5;
  if (size % 2 !== 1) fail(`lrn_param.local_size must be odd, got ${size}`);
  return { size, alpha: p.alpha ?? 1, beta: p.beta ?? 0.75, k: p.k ?? 1, region: p.norm_region ?? 'ACROSS_CHANNELS' };
}
