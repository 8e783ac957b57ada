// The window geometry, and im2col and col2im on CPU arrays: what the CPU's convolution, its transpose and its weight gradient reduce to (WebGPU's batched ones are in webgpu.ts).

import { NDArray, TYPED, contiguous, sizeOf } from '../../array/ndarray.js';

/** A 2-D window: kernel size, stride, padding and dilation along (h, w), and channel groups. */
export interface Geometry {
  readonly kh: number; readonly kw: number;
  readonly sy: number; readonly sx: number;
  readonly ph: number; readonly pw: number;
  readonly dy: number; readonly dx: number;
  readonly groups: number;
  /** Round the output size up (Chainer's cover_all): unpooling's adjoint needs it; default false. */
  readonly coverAll?: boolean;
}

/**
 * Output length of a window sliding over `size` cells: floor((size + 2p - dk) / s) + 1 with
 * dk = (k - 1) d + 1; with `coverAll`, rounded up instead, so the last cells are covered too
 * (Chainer's cover_all, Caffe's pooling).
 */
export function outSize(size: number, k: number, s: number, p: number, d = 1, coverAll = false): number {
  const dk = (k - 1) * d + 1;
  return Math.floor((size + 2 * p - dk + (coverAll ? s - 1 : 0)) / s) + 1;
}

const dense = (x: NDArray): NDArray => (x.isContiguous ? x : contiguous(x));

// ---- im2col: col[(c, i, j), (n, oy, ox)] = x[n, c, oy sy - ph + i dy, ox sx - pw + j dx], 0 outside

function im2colCpu(x: NDArray, g: Geometry, ho: number, wo: number): NDArray {
  const [n, c, h, w] = x.shape;
  const [s0, s1, s2, s3] = x.strides;
  const { kh, kw, sy, sx, ph, pw, dy, dx } = g;
  const out = new TYPED[x.dtype](c * kh * kw * n * ho * wo);
  const xb = x.buffer;
  let o = 0;
  for (let ci = 0; ci < c; ci++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        for (let b = 0; b < n; b++) {
          const base = x.offset + b * s0 + ci * s1;
          for (let oy = 0; oy < ho; oy++) {
            const y = oy * sy - ph + i * dy;
            // rows of padding stay zero
            if (y < 0 || y >= h) { o += wo; continue; }
            const row = base + y * s2;
            for (let ox = 0; ox < wo; ox++, o++) {
              const xx = ox * sx - pw + j * dx;
              if (xx >= 0 && xx < w) out[o] = xb[row + xx * s3];
            }
          }
        }
      }
    }
  }
  return new NDArray(out, [c * kh * kw, n * ho * wo]);
}

/** The (C kh kw, N ho wo) patch matrix of x (N, C, H, W): one column per output position. */
export const im2col = (x: NDArray, g: Geometry, ho: number, wo: number): NDArray => im2colCpu(x, g, ho, wo);

// ---- col2im: the adjoint, each patch cell added back into the image cell it came from ------

function col2imCpu(col: NDArray, shape: readonly number[], g: Geometry, ho: number, wo: number): NDArray {
  const [n, c, h, w] = shape;
  const { kh, kw, sy, sx, ph, pw, dy, dx } = g;
  const out = new TYPED[col.dtype](sizeOf(shape));
  const cb = dense(col), src = cb.buffer;
  let o = cb.offset;
  for (let ci = 0; ci < c; ci++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        for (let b = 0; b < n; b++) {
          const base = (b * c + ci) * h * w;
          for (let oy = 0; oy < ho; oy++) {
            const y = oy * sy - ph + i * dy;
            if (y < 0 || y >= h) { o += wo; continue; }
            const row = base + y * w;
            for (let ox = 0; ox < wo; ox++, o++) {
              const xx = ox * sx - pw + j * dx;
              if (xx >= 0 && xx < w) out[row + xx] += src[o];
            }
          }
        }
      }
    }
  }
  return new NDArray(out, shape.slice());
}

/** The image `shape` (N, C, H, W) that sums col (C kh kw, N ho wo) back into place: im2col's adjoint. */
export const col2im = (col: NDArray, shape: readonly number[], g: Geometry, ho: number, wo: number): NDArray =>
  col2imCpu(col, shape, g, ho, wo);

/** A window argument as Chainer takes it: one int for both axes, or an (h, w) pair. */
export type Pair = number | readonly [number, number];

/** An int or an [h, w] pair of ints >= `min`, as Chainer's window arguments take them. */
export function pair(op: string, name: string, v: Pair, min: number): [number, number] {
  const p: readonly number[] = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || p.some((q) => !Number.isInteger(q) || q < min)) {
    throw new Error(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}
