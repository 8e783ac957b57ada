// im2col and col2im on arrays, the CPU loops and the WGSL kernels: what every convolution, its transpose and its weight gradient reduce to.

import { packParams } from '../../../compiler/wgsl.js';
import { kernelFor, type DeviceKernels } from '../../array/backend.js';
import { NDArray, TYPED, contiguous, sizeOf } from '../../array/ndarray.js';
import { WG, elementType, flatMain, kernel, u32 } from '../../array/webgpu/kernel.js';
import { cached, empty, launch } from '../../array/webgpu/launch.js';

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

const GEOMETRY_PARAMS = ['kh', 'kw', 'sy', 'sx', 'ph', 'pw', 'dy', 'dx'] as const;

/** Columns of one row (fixed c, i, j, n, oy) each invocation of the WGSL im2col fills. */
const IM2COL_RUN = 4;

function im2colWebgpu(x: NDArray, g: Geometry, ho: number, wo: number): NDArray {
  const [n, c, h, w] = x.shape;
  const out = empty([c * g.kh * g.kw, n * ho * wo], x.dtype);
  if (out.size === 0) return out;
  // a negative stride (a reversed view) cannot go through u32 params: copy such a view first
  if (x.strides.some((s) => s < 0)) return im2colWebgpu(contiguous(x), g, ho, wo);
  const type = elementType(x.dtype);
  // invocation i fills IM2COL_RUN neighbouring columns of one patch row: the index
  // arithmetic (a dozen divisions) is shared by them, and neighbouring invocations still
  // write neighbouring cells
  const kern = cached(`im2col|${type}`, () => kernel('im2col', [{ name: 'X', type, role: 'input' }, { name: 'Y', type, role: 'output' }],
    [u32('n'), u32('runs'), u32('nb'), u32('h'), u32('w'), u32('ho'), u32('wo'), ...GEOMETRY_PARAMS.map(u32), u32('xo'), u32('s0'), u32('s1'), u32('s2'), u32('s3')], WG, `${flatMain(WG)}
  let row = i / p.runs;
  let ox0 = (i % p.runs) * ${IM2COL_RUN}u;
  let oy = row % p.ho;
  let b = (row / p.ho) % p.nb;
  let r = row / (p.ho * p.nb);
  let j = r % p.kw;
  let ki = (r / p.kw) % p.kh;
  let ci = r / (p.kw * p.kh);
  let y = i32(oy * p.sy + ki * p.dy) - i32(p.ph);
  let inRow = y >= 0 && u32(y) < p.h;
  let base = p.xo + b * p.s0 + ci * p.s1 + u32(max(y, 0)) * p.s2;
  let at = row * p.wo;
  for (var ox = ox0; ox < min(ox0 + ${IM2COL_RUN}u, p.wo); ox++) {
    let xx = i32(ox * p.sx + j * p.dx) - i32(p.pw);
    var v = ${type}();
    if (inRow && xx >= 0 && u32(xx) < p.w) { v = X[base + u32(xx) * p.s3]; }
    Y[at + ox] = v;
  }
}`));
  const [s0, s1, s2, s3] = x.strides;
  const runs = Math.ceil(wo / IM2COL_RUN), count = c * g.kh * g.kw * n * ho * runs;
  launch(kern, [x, out], packParams(kern, { n: count, runs, nb: n, h, w, ho, wo, ...pick(g), xo: x.offset, s0, s1, s2, s3 }), count);
  return out;
}

const pick = (g: Geometry): Record<string, number> => Object.fromEntries(GEOMETRY_PARAMS.map((k) => [k, g[k]]));

const IM2COL: DeviceKernels<typeof im2colCpu> = { cpu: im2colCpu, webgpu: im2colWebgpu };

/** The (C kh kw, N ho wo) patch matrix of x (N, C, H, W): one column per output position. */
export const im2col = (x: NDArray, g: Geometry, ho: number, wo: number): NDArray => kernelFor(IM2COL, x.device)(x, g, ho, wo);

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

function col2imWebgpu(col: NDArray, shape: readonly number[], g: Geometry, ho: number, wo: number): NDArray {
  const [n, c, h, w] = shape;
  const out = empty(shape, col.dtype);
  if (out.size === 0) return out;
  const src = dense(col);
  const type = elementType(col.dtype);
  // a gather: one invocation per image cell sums the patch cells that read it, so no atomics.
  // Undilated windows walk the output rows and columns that cover the cell (kh / sy of them,
  // no divisibility test); dilated ones test every tap.
  const undilated = g.dy === 1 && g.dx === 1;
  const loops = undilated ? `
  let ty = i32(y + p.ph);
  let tx = i32(xx + p.pw);
  let oy0 = select(0, (ty - i32(p.kh) + i32(p.sy)) / i32(p.sy), ty + 1 > i32(p.kh));
  let ox0 = select(0, (tx - i32(p.kw) + i32(p.sx)) / i32(p.sx), tx + 1 > i32(p.kw));
  let oy1 = min(i32(p.ho) - 1, ty / i32(p.sy));
  let ox1 = min(i32(p.wo) - 1, tx / i32(p.sx));
  for (var oy = oy0; oy <= oy1; oy++) {
    let ki = u32(ty - oy * i32(p.sy));
    for (var ox = ox0; ox <= ox1; ox++) {
      let kj = u32(tx - ox * i32(p.sx));
      acc += C[p.co + ((ci * p.kh + ki) * p.kw + kj) * np + (b * p.ho + u32(oy)) * p.wo + u32(ox)];
    }
  }` : `
  for (var ki = 0u; ki < p.kh; ki++) {
    let ty = i32(y + p.ph) - i32(ki * p.dy);
    if (ty < 0 || u32(ty) % p.sy != 0u) { continue; }
    let oy = u32(ty) / p.sy;
    if (oy >= p.ho) { continue; }
    for (var kj = 0u; kj < p.kw; kj++) {
      let tx = i32(xx + p.pw) - i32(kj * p.dx);
      if (tx < 0 || u32(tx) % p.sx != 0u) { continue; }
      let ox = u32(tx) / p.sx;
      if (ox >= p.wo) { continue; }
      acc += C[p.co + ((ci * p.kh + ki) * p.kw + kj) * np + (b * p.ho + oy) * p.wo + ox];
    }
  }`;
  const kern = cached(`col2im|${type}|${undilated}`, () => kernel('col2im', [{ name: 'C', type, role: 'input' }, { name: 'Y', type, role: 'output' }],
    [u32('n'), u32('nb'), u32('c'), u32('h'), u32('w'), u32('ho'), u32('wo'), ...GEOMETRY_PARAMS.map(u32), u32('co')], WG, `${flatMain(WG)}
  let xx = i % p.w;
  let y = (i / p.w) % p.h;
  let ci = (i / (p.w * p.h)) % p.c;
  let b = i / (p.w * p.h * p.c);
  let np = p.nb * p.ho * p.wo;
  var acc = ${type}();${loops}
  Y[i] = acc;
}`));
  launch(kern, [src, out], packParams(kern, { n: out.size, nb: n, c, h, w, ho, wo, ...pick(g), co: src.offset }), out.size);
  return out;
}

const COL2IM: DeviceKernels<typeof col2imCpu> = { cpu: col2imCpu, webgpu: col2imWebgpu };

/** The image `shape` (N, C, H, W) that sums col (C kh kw, N ho wo) back into place: im2col's adjoint. */
export const col2im = (col: NDArray, shape: readonly number[], g: Geometry, ho: number, wo: number): NDArray =>
  kernelFor(COL2IM, col.device)(col, shape, g, ho, wo);

/** An int or an [h, w] pair of ints >= `min`, as Chainer's window arguments take them. */
export function pair(op: string, name: string, v: number | readonly [number, number], min: number): [number, number] {
  const p: readonly number[] = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || p.some((q) => !Number.isInteger(q) || q < min)) {
    throw new Error(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}
