// Plain-JS references written from each op's definition, shared by the op tests and the property test.

import { NDArray } from '../../runtime/index.js';
import { refStrides, unravel } from '../helpers.js';

/** An NDArray, or a plain row-major array with its shape (the property test's arrays). */
export type Arr = NDArray | { readonly shape: readonly number[]; readonly data: readonly number[] };
const flatOf = (x: Arr): ArrayLike<number> => (x instanceof NDArray ? x.toFlat() : x.data);
const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const sig = (v: number) => 1 / (1 + Math.exp(-v));

type Pair = readonly [number, number];
/** Window geometry of the pooling ops (coverAll for max pooling and unpooling, outsize for unpooling). */
export interface Pool { ksize: Pair; stride: Pair; pad: Pair }
export interface CoverPool extends Pool { coverAll: boolean; outsize?: Pair }
/** Geometry of convolution2d and deconvolution2d (outsize for the latter). */
export interface Conv { stride: Pair; pad: Pair; dilate: Pair; groups: number; outsize?: Pair }
export interface Lrn { n: number; k: number; alpha: number; beta: number }

// average-pooling-2d
/** y[n, c, i, j] = sum of the in-bounds cells of the window / (kh kw): padding counts as zeros. */
export function refAvgPool(x: Arr, o: Pool): { shape: number[]; data: number[] } {
  const [N, C, H, W] = x.shape, [kh, kw] = o.ksize;
  const Ho = Math.floor((H + 2 * o.pad[0] - kh) / o.stride[0]) + 1, Wo = Math.floor((W + 2 * o.pad[1] - kw) / o.stride[1]) + 1;
  const X = flatOf(x), data: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < Ho; i++) {
        for (let j = 0; j < Wo; j++) {
          let s = 0;
          for (let p = 0; p < kh; p++) {
            for (let q = 0; q < kw; q++) {
              const yy = i * o.stride[0] - o.pad[0] + p, xx = j * o.stride[1] - o.pad[1] + q;
              if (yy >= 0 && yy < H && xx >= 0 && xx < W) s += X[((n * C + c) * H + yy) * W + xx];
            }
          }
          data.push(s / (kh * kw));
        }
      }
    }
  }
  return { shape: [N, C, Ho, Wo], data };
}

// convolution-2d
/** y[n, o, i, j] = b[o] + sum_{c, p, q} W[o, c, p, q] x[n, grp(o) * C/G + c, i*sy - ph + p*dy, j*sx - pw + q*dx]. */
export function refConv(x: Arr, W: Arr, b: Arr | null, o: Conv): { shape: number[]; data: number[] } {
  const [N, C, H, Wd] = x.shape, [O, Cg, KH, KW] = W.shape;
  const [sy, sx] = o.stride, [ph, pw] = o.pad, [dy, dx] = o.dilate;
  const Ho = Math.floor((H + 2 * ph - (KH - 1) * dy - 1) / sy) + 1;
  const Wo = Math.floor((Wd + 2 * pw - (KW - 1) * dx - 1) / sx) + 1;
  const X = flatOf(x), K = flatOf(W), B = (b ? flatOf(b) : undefined);
  const data: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let oc = 0; oc < O; oc++) {
      const grp = Math.floor(oc / (O / o.groups));
      for (let i = 0; i < Ho; i++) {
        for (let j = 0; j < Wo; j++) {
          let s = B ? B[oc] : 0;
          for (let c = 0; c < Cg; c++) {
            const ci = grp * Cg + c;
            for (let p = 0; p < KH; p++) {
              for (let q = 0; q < KW; q++) {
                const yy = i * sy - ph + p * dy, xx = j * sx - pw + q * dx;
                if (yy < 0 || yy >= H || xx < 0 || xx >= Wd) continue;
                s += K[((oc * Cg + c) * KH + p) * KW + q] * X[((n * C + ci) * H + yy) * Wd + xx];
              }
            }
          }
          data.push(s);
        }
      }
    }
  }
  return { shape: [N, O, Ho, Wo], data };
}

// deconvolution-2d
/** Every x[n, c, i, j] adds x W[c, o, p, q] at (i sy - ph + p dy, j sx - pw + q dx) of output channel grp(c) O/G + o. */
export function refDeconv(x: Arr, W: Arr, b: Arr | null, d: Conv): { shape: number[]; data: number[] } {
  const [N, C, h, w] = x.shape, [, Og, KH, KW] = W.shape;
  const [sy, sx] = d.stride, [ph, pw] = d.pad, [dy, dx] = d.dilate;
  const O = Og * d.groups;
  const H = d.outsize?.[0] ?? sy * (h - 1) + (KH - 1) * dy + 1 - 2 * ph;
  const Wd = d.outsize?.[1] ?? sx * (w - 1) + (KW - 1) * dx + 1 - 2 * pw;
  const X = flatOf(x), K = flatOf(W), B = (b ? flatOf(b) : undefined);
  const y = new Float64Array(N * O * H * Wd);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const grp = Math.floor(c / (C / d.groups));
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const v = X[((n * C + c) * h + i) * w + j];
          for (let o = 0; o < Og; o++) {
            for (let p = 0; p < KH; p++) {
              for (let q = 0; q < KW; q++) {
                const Y = i * sy - ph + p * dy, Xc = j * sx - pw + q * dx;
                if (Y < 0 || Y >= H || Xc < 0 || Xc >= Wd) continue;
                y[((n * O + grp * Og + o) * H + Y) * Wd + Xc] += v * K[((c * Og + o) * KH + p) * KW + q];
              }
            }
          }
        }
      }
    }
  }
  if (B) for (let k = 0; k < y.length; k++) y[k] += B[Math.floor(k / (H * Wd)) % O];
  return { shape: [N, O, H, Wd], data: Array.from(y) };
}

// embed-id
/** y[..., d] = W[id, d] by plain indexing; an ignored id gives zeros. */
export function refEmbed(ids: readonly number[], W: Arr, ignore?: number): number[] {
  const [, D] = W.shape, w = Array.from(flatOf(W));
  return ids.flatMap((id) => Array.from({ length: D }, (_, d) => (id === ignore ? 0 : w[id * D + d])));
}

// local-response-normalization
/** y[b, c, r] = x[b, c, r] / (k + alpha sum_{|c' - c| <= n/2, 0 <= c' < C} x[b, c', r]^2)^beta. */
export function refLrn(x: Arr, o: Lrn): number[] {
  const [N, C] = x.shape, R = sizeOf(x.shape) / (N * C), X = flatOf(x), half = Math.floor(o.n / 2);
  const y: number[] = [];
  for (let b = 0; b < N; b++) {
    for (let c = 0; c < C; c++) {
      for (let r = 0; r < R; r++) {
        let s = 0;
        for (let d = Math.max(0, c - half); d <= Math.min(C - 1, c + half); d++) s += X[(b * C + d) * R + r] ** 2;
        y.push(X[(b * C + c) * R + r] / (o.k + o.alpha * s) ** o.beta);
      }
    }
  }
  return y;
}

// lstm
/**
 * One LSTM step written from Chainer's definition: x[b, 4u + k, ...] holds gate k (a, i, f, o)
 * of unit u. cPrev may have more rows than x; those rows pass through.
 */
export function refLstm(cPrev: Arr, x: Arr): { c: number[]; h: number[] } {
  const [B, H4] = x.shape, H = H4 / 4, rest = x.shape.slice(2).reduce((a, b) => a * b, 1);
  const xs = Array.from(flatOf(x)), cs = Array.from(flatOf(cPrev));
  const c = cs.slice(), h: number[] = [];
  const sx = refStrides([B, H, 4, rest]);
  for (let b = 0; b < B; b++) {
    for (let u = 0; u < H; u++) {
      for (let r = 0; r < rest; r++) {
        const g = (k: number) => xs[b * sx[0] + u * sx[1] + k * sx[2] + r];
        const at = (b * H + u) * rest + r;
        c[at] = Math.tanh(g(0)) * sig(g(1)) + sig(g(2)) * cs[at];
        h.push(sig(g(3)) * Math.tanh(c[at]));
      }
    }
  }
  return { c, h };
}

// max-pooling-2d
/** Output length: floor or (coverAll) ceil of (size + 2p - k) / s, plus one. */
export const outLen = (size: number, k: number, s: number, p: number, coverAll: boolean) =>
  (coverAll ? Math.ceil((size + 2 * p - k) / s) : Math.floor((size + 2 * p - k) / s)) + 1;

// max-pooling-2d
/** y[n, c, i, j] = max of x over the in-bounds cells of window (i sy - ph .. + kh - 1, j sx - pw .. + kw - 1). */
export function refMaxPool(x: Arr, o: CoverPool): { shape: number[]; data: number[] } {
  const [N, C, H, W] = x.shape;
  const Ho = outLen(H, o.ksize[0], o.stride[0], o.pad[0], o.coverAll), Wo = outLen(W, o.ksize[1], o.stride[1], o.pad[1], o.coverAll);
  const X = flatOf(x), data: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < Ho; i++) {
        for (let j = 0; j < Wo; j++) {
          let m = -Infinity;
          for (let p = 0; p < o.ksize[0]; p++) {
            for (let q = 0; q < o.ksize[1]; q++) {
              const yy = i * o.stride[0] - o.pad[0] + p, xx = j * o.stride[1] - o.pad[1] + q;
              if (yy >= 0 && yy < H && xx >= 0 && xx < W) m = Math.max(m, X[((n * C + c) * H + yy) * W + xx]);
            }
          }
          data.push(m);
        }
      }
    }
  }
  return { shape: [N, C, Ho, Wo], data };
}

// unpooling-2d
export const defaultLen = (len: number, k: number, s: number, p: number, coverAll: boolean) => s * (len - 1) + k - 2 * p - (coverAll ? s - 1 : 0);

// unpooling-2d
/** y = zeros; every x[n, c, i, j] is added to the in-bounds cells of its window (i sy - ph + p, j sx - pw + q). */
export function refUnpool(x: Arr, o: CoverPool): { shape: number[]; data: number[] } {
  const [N, C, h, w] = x.shape, [kh, kw] = o.ksize;
  const H = o.outsize?.[0] ?? defaultLen(h, kh, o.stride[0], o.pad[0], o.coverAll);
  const W = o.outsize?.[1] ?? defaultLen(w, kw, o.stride[1], o.pad[1], o.coverAll);
  const X = flatOf(x), y = new Float64Array(N * C * H * W);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          for (let p = 0; p < kh; p++) {
            for (let q = 0; q < kw; q++) {
              const yy = i * o.stride[0] - o.pad[0] + p, xx = j * o.stride[1] - o.pad[1] + q;
              if (yy >= 0 && yy < H && xx >= 0 && xx < W) y[((n * C + c) * H + yy) * W + xx] += X[((n * C + c) * h + i) * w + j];
            }
          }
        }
      }
    }
  }
  return { shape: [N, C, H, W], data: Array.from(y) };
}

// normalization
/** The channel (gamma's flat index) of each element of x, for gamma over the axes not in `axes`. */
export function channelOf(shape: readonly number[], axes: readonly number[]): number[] {
  const kept = shape.filter((_, d) => !axes.includes(d)), ks = refStrides(kept);
  const n = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, i) => unravel(i, shape).filter((_, d) => !axes.includes(d)).reduce((p, j, d) => p + j * ks[d], 0));
}

// normalization
/** Batch normalization from its definition: per-channel mean and biased variance, two passes. */
export function refBatchNorm(x: Arr, gamma: Arr, beta: Arr, axes: number[], eps: number) {
  const ch = channelOf(x.shape, axes), xs = Array.from(flatOf(x)), C = sizeOf(gamma.shape);
  const mean = new Array<number>(C).fill(0), vari = new Array<number>(C).fill(0), count = new Array<number>(C).fill(0);
  xs.forEach((v, i) => { mean[ch[i]] += v; count[ch[i]]++; });
  mean.forEach((_, c) => (mean[c] /= count[c]));
  xs.forEach((v, i) => { vari[ch[i]] += (v - mean[ch[i]]) ** 2; });
  vari.forEach((_, c) => (vari[c] /= count[c]));
  const g = Array.from(flatOf(gamma)), b = Array.from(flatOf(beta));
  return { y: xs.map((v, i) => g[ch[i]] * (v - mean[ch[i]]) / Math.sqrt(vari[ch[i]] + eps) + b[ch[i]]), mean, vari, m: count[0] };
}

// normalization
export function refFixed(x: Arr, gamma: Arr, beta: Arr, mean: Arr, vari: Arr, axes: number[], eps: number): number[] {
  const ch = channelOf(x.shape, axes), [g, b, m, v] = [gamma, beta, mean, vari].map((a) => Array.from(flatOf(a)));
  return Array.from(flatOf(x), (val, i) => g[ch[i]] * (val - m[ch[i]]) / Math.sqrt(v[ch[i]] + eps) + b[ch[i]]);
}

// smooth-activations
export const hardSigmoidRef = (v: number) => Math.min(1, Math.max(0, 0.2 * v + 0.5));

// smooth-activations
export const geluRef = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

// smooth-activations
/** Plain-JS log(sum(exp(x))) over `axes` of row-major x, by walking every element. */
export function logSumExpRef(x: Arr, axes: number[]): { shape: number[]; data: number[] } {
  const shape = x.shape.filter((_, d) => !axes.includes(d));
  const out = new Map<number, number[]>();
  const data = Array.from(flatOf(x));
  data.forEach((v, i) => {
    const idx = unravel(i, x.shape).filter((_, d) => !axes.includes(d));
    const key = idx.reduce((p, j, d) => p + j * refStrides(shape)[d], 0);
    out.set(key, [...(out.get(key) ?? []), v]);
  });
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Array.from({ length: n }, (_, k) => Math.log(out.get(k)!.reduce((s, v) => s + Math.exp(v), 0))) };
}

// sigmoid-cross-entropy
/** Per-element -(t log p + (1 - t) log(1 - p)), p = sigmoid(x), 0 where t is -1 (from the definition). */
export function refLosses(x: Arr, t: Arr): number[] {
  const ts = Array.from(flatOf(t));
  return Array.from(flatOf(x), (v, i) => {
    if (ts[i] === -1) return 0;
    const p = 1 / (1 + Math.exp(-v));
    return -(ts[i] * Math.log(p) + (1 - ts[i]) * Math.log(1 - p));
  });
}
