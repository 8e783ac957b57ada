// max pooling's kernels on arrays, CPU loops and WGSL side by side: the pooled max with where it came from, and moving values along those indices.

import { packParams } from '../../../compiler/wgsl.js';
import { kernelFor, type DeviceKernels } from '../../array/backend.js';
import { NDArray, TYPED, contiguous, sizeOf } from '../../array/ndarray.js';
import { WG, elementType, flatMain, kernel, u32 } from '../../array/webgpu/kernel.js';
import { cached, empty, launch, launchPlanes } from '../../array/webgpu/launch.js';

/** A pooling window: size, stride and padding along (h, w), and the output size. */
export interface Window { kh: number; kw: number; sy: number; sx: number; ph: number; pw: number; ho: number; wo: number }

const dense = (x: NDArray): NDArray => (x.isContiguous ? x : contiguous(x));
const WINDOW = ['kh', 'kw', 'sy', 'sx', 'ph', 'pw', 'ho', 'wo'] as const;
const params = (w: Window): Record<string, number> => Object.fromEntries(WINDOW.map((k) => [k, w[k]]));

// ---- forward: y = the max over each window (padding never wins), idx = its cell in the plane (y W + x)

function poolCpu(x: NDArray, win: Window): [NDArray, NDArray] {
  const [n, c, h, w] = x.shape, [s0, s1, s2, s3] = x.strides;
  const { kh, kw, sy, sx, ph, pw, ho, wo } = win;
  const y = new TYPED[x.dtype](n * c * ho * wo), idx = new Int32Array(y.length);
  const xb = x.buffer;
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let ci = 0; ci < c; ci++) {
      const base = x.offset + b * s0 + ci * s1;
      for (let oy = 0; oy < ho; oy++) {
        const y0 = Math.max(0, oy * sy - ph), y1 = Math.min(h, oy * sy - ph + kh);
        for (let ox = 0; ox < wo; ox++, o++) {
          const x0 = Math.max(0, ox * sx - pw), x1 = Math.min(w, ox * sx - pw + kw);
          // the first cell of the window (row-major) wins ties, as Chainer's argmax does
          let best = xb[base + y0 * s2 + x0 * s3], at = y0 * w + x0;
          for (let yy = y0; yy < y1; yy++) {
            for (let xx = x0; xx < x1; xx++) {
              const v = xb[base + yy * s2 + xx * s3];
              if (v > best) { best = v; at = yy * w + xx; }
            }
          }
          y[o] = best;
          idx[o] = at;
        }
      }
    }
  }
  return [new NDArray(y, [n, c, ho, wo]), new NDArray(idx, [n, c, ho, wo])];
}

// The grids are (cell of a plane, channel, image), launched by launchPlanes.
const HEAD = `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  let plane = (p.z0 + gid.z) * p.c + p.y0 + gid.y;`;

function poolWebgpu(x: NDArray, win: Window): [NDArray, NDArray] {
  const [n, c, h, w] = x.shape;
  const src = x.strides.some((s) => s < 0) ? contiguous(x) : x;
  const y = empty([n, c, win.ho, win.wo], x.dtype), idx = empty([n, c, win.ho, win.wo], 'int32');
  if (y.size === 0) return [y, idx];
  const type = elementType(x.dtype);
  const kern = cached(`maxPool|${type}`, () => kernel('maxPooling2d', [
    { name: 'X', type, role: 'input' }, { name: 'Y', type, role: 'output' }, { name: 'I', type: 'i32', role: 'output' },
  ], [u32('y0'), u32('z0'), u32('c'), u32('h'), u32('w'), ...WINDOW.map(u32), u32('xo'), u32('s0'), u32('s1'), u32('s2'), u32('s3')], WG, `${HEAD}
  if (r >= p.ho * p.wo) { return; }
  let ox = r % p.wo;
  let oy = r / p.wo;
  let base = p.xo + (p.z0 + gid.z) * p.s0 + (p.y0 + gid.y) * p.s1;
  let y0 = u32(max(0, i32(oy * p.sy) - i32(p.ph)));
  let y1 = u32(min(i32(p.h), i32(oy * p.sy + p.kh) - i32(p.ph)));
  let x0 = u32(max(0, i32(ox * p.sx) - i32(p.pw)));
  let x1 = u32(min(i32(p.w), i32(ox * p.sx + p.kw) - i32(p.pw)));
  var best = X[base + y0 * p.s2 + x0 * p.s3];
  var at = y0 * p.w + x0;
  for (var yy = y0; yy < y1; yy++) {
    for (var xx = x0; xx < x1; xx++) {
      let v = X[base + yy * p.s2 + xx * p.s3];
      if (v > best) { best = v; at = yy * p.w + xx; }
    }
  }
  let o = plane * p.ho * p.wo + r;
  Y[o] = best;
  I[o] = i32(at);
}`));
  const [s0, s1, s2, s3] = src.strides;
  launchPlanes('maxPooling2d', kern, [src, y, idx], { c, h, w, ...params(win), xo: src.offset, s0, s1, s2, s3 }, win.ho * win.wo, c, n);
  return [y, idx];
}

const POOL: DeviceKernels<typeof poolCpu> = { cpu: poolCpu, webgpu: poolWebgpu };

/** y (N, C, ho, wo) = the max of each window of x (N, C, H, W), and idx, the plane cell (y W + x) each came from. */
export const maxPool = (x: NDArray, win: Window): [NDArray, NDArray] => kernelFor(POOL, x.device)(x, win);

// ---- gather: out[n, c, i, j] = x[n, c, idx[n, c, i, j]], the selection that forward made ---

function gatherCpu(x: NDArray, idx: NDArray): NDArray {
  const src = dense(x), ib = idx.buffer, xb = src.buffer;
  const plane = x.shape[2] * x.shape[3], per = idx.shape[2] * idx.shape[3];
  const out = new TYPED[x.dtype](idx.size);
  for (let o = 0; o < out.length; o++) out[o] = xb[src.offset + Math.floor(o / per) * plane + ib[o]];
  return new NDArray(out, idx.shape.slice());
}

function gatherWebgpu(x: NDArray, idx: NDArray): NDArray {
  const src = dense(x);
  const out = empty(idx.shape, x.dtype);
  if (out.size === 0) return out;
  const type = elementType(x.dtype);
  const kern = cached(`maxPoolGather|${type}`, () => kernel('maxPooling2dGather', [
    { name: 'X', type, role: 'input' }, { name: 'I', type: 'i32', role: 'input' }, { name: 'Y', type, role: 'output' },
  ], [u32('n'), u32('plane'), u32('per'), u32('xo')], WG, `${flatMain(WG)}
  Y[i] = X[p.xo + (i / p.per) * p.plane + u32(I[i])];
}`));
  launch(kern, [src, idx, out], packParams(kern, { n: out.size, plane: x.shape[2] * x.shape[3], per: idx.shape[2] * idx.shape[3], xo: src.offset }), out.size);
  return out;
}

const GATHER: DeviceKernels<typeof gatherCpu> = { cpu: gatherCpu, webgpu: gatherWebgpu };

/** x (N, C, H, W) read at idx (N, C, ho, wo): what max pooling selected, from another array of x's shape. */
export const gatherAt = (x: NDArray, idx: NDArray): NDArray => kernelFor(GATHER, x.device)(x, idx);

// ---- scatter: gx (N, C, H, W) = zeros with each gy added at the cell its window picked ------

function scatterCpu(gy: NDArray, idx: NDArray, shape: readonly number[]): NDArray {
  const src = dense(gy), gb = src.buffer, ib = idx.buffer;
  const plane = shape[2] * shape[3], per = idx.shape[2] * idx.shape[3];
  const out = new TYPED[gy.dtype](sizeOf(shape));
  for (let o = 0; o < idx.size; o++) out[Math.floor(o / per) * plane + ib[o]] += gb[src.offset + o];
  return new NDArray(out, shape.slice());
}

function scatterWebgpu(gy: NDArray, idx: NDArray, shape: readonly number[], win: Window): NDArray {
  // windows that do not overlap (stride >= ksize, as in every LeNet): each window writes the cells it owns
  if (win.sy >= win.kh && win.sx >= win.kw) return scatterDisjoint(gy, idx, shape, win);
  return scatterOverlapping(gy, idx, shape, win);
}

/**
 * Windows that do not overlap: invocation (window, channel, image) writes its gradient at
 * the cell forward picked and zeros at the other cells it owns, the rows from its window's
 * first to the next window's first (the first window from row 0, the last to row H), and
 * likewise the columns; so the windows tile the plane and every cell is written once.
 */
function scatterDisjoint(gy: NDArray, idx: NDArray, shape: readonly number[], win: Window): NDArray {
  const [n, c, h, w] = shape;
  const src = dense(gy);
  const out = empty(shape, gy.dtype);
  if (out.size === 0) return out;
  const type = elementType(gy.dtype);
  const kern = cached(`maxPoolScatterDisjoint|${type}`, () => kernel('maxPooling2dScatterDisjoint', [
    { name: 'G', type, role: 'input' }, { name: 'I', type: 'i32', role: 'input' }, { name: 'Y', type, role: 'output' },
  ], [u32('y0'), u32('z0'), u32('c'), u32('h'), u32('w'), ...WINDOW.map(u32), u32('go')], WG, `${HEAD}
  if (r >= p.ho * p.wo) { return; }
  let ox = r % p.wo;
  let oy = r / p.wo;
  let o = plane * p.ho * p.wo + r;
  let at = u32(I[o]);
  let g = G[p.go + o];
  let r0 = select(u32(max(0, i32(oy * p.sy) - i32(p.ph))), 0u, oy == 0u);
  let r1 = select(u32(clamp(i32((oy + 1u) * p.sy) - i32(p.ph), 0, i32(p.h))), p.h, oy + 1u == p.ho);
  let c0 = select(u32(max(0, i32(ox * p.sx) - i32(p.pw))), 0u, ox == 0u);
  let c1 = select(u32(clamp(i32((ox + 1u) * p.sx) - i32(p.pw), 0, i32(p.w))), p.w, ox + 1u == p.wo);
  let base = plane * p.h * p.w;
  for (var yy = r0; yy < r1; yy++) {
    for (var xx = c0; xx < c1; xx++) {
      let cell = yy * p.w + xx;
      Y[base + cell] = select(${type}(), g, cell == at);
    }
  }
}`));
  launchPlanes('maxPooling2d', kern, [src, idx, out], { c, h, w, ...params(win), go: src.offset }, win.ho * win.wo, c, n);
  return out;
}

function scatterOverlapping(gy: NDArray, idx: NDArray, shape: readonly number[], win: Window): NDArray {
  const src = dense(gy);
  const out = empty(shape, gy.dtype);
  if (out.size === 0) return out;
  const type = elementType(gy.dtype);
  // a gather over the windows that contain each cell, so no two invocations write one cell
  const kern = cached(`maxPoolScatter|${type}`, () => kernel('maxPooling2dScatter', [
    { name: 'G', type, role: 'input' }, { name: 'I', type: 'i32', role: 'input' }, { name: 'Y', type, role: 'output' },
  ], [u32('n'), u32('h'), u32('w'), ...WINDOW.map(u32), u32('go')], WG, `${flatMain(WG)}
  let cell = i % (p.h * p.w);
  let plane = i / (p.h * p.w);
  let xx = cell % p.w;
  let yy = cell / p.w;
  // windows oy with oy sy - ph <= yy <= oy sy - ph + kh - 1
  let ty = i32(yy + p.ph) - i32(p.kh) + 1;
  let tx = i32(xx + p.pw) - i32(p.kw) + 1;
  let oy0 = select(0u, (u32(ty) + p.sy - 1u) / p.sy, ty > 0);
  let ox0 = select(0u, (u32(tx) + p.sx - 1u) / p.sx, tx > 0);
  let oy1 = min(p.ho, (yy + p.ph) / p.sy + 1u);
  let ox1 = min(p.wo, (xx + p.pw) / p.sx + 1u);
  var acc = ${type}();
  for (var oy = oy0; oy < oy1; oy++) {
    for (var ox = ox0; ox < ox1; ox++) {
      let o = (plane * p.ho + oy) * p.wo + ox;
      if (u32(I[o]) == cell) { acc += G[p.go + o]; }
    }
  }
  Y[i] = acc;
}`));
  launch(kern, [src, idx, out], packParams(kern, { n: out.size, h: shape[2], w: shape[3], ...params(win), go: src.offset }), out.size);
  return out;
}

const SCATTER: DeviceKernels<typeof scatterWebgpu> = { cpu: scatterCpu, webgpu: scatterWebgpu };

/** The adjoint of gatherAt: zeros of `shape` (N, C, H, W) with gy (N, C, ho, wo) added at idx. */
export const scatterAt = (gy: NDArray, idx: NDArray, shape: readonly number[], win: Window): NDArray =>
  kernelFor(SCATTER, gy.device)(gy, idx, shape, win);
