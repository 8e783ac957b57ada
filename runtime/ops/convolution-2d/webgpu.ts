// Convolution on WebGPU: per-image patch matrices (N, G, K, ho wo) and batched GEMMs, so no product is transposed or copied into channel-major order.

import { NDArray, contiguous } from '../../array/ndarray.js';
import { elementType, kernel, u32 } from '../../array/webgpu/kernel.js';
import { cached, empty, launchPlanes } from '../../array/webgpu/launch.js';
import { matmulArray, matmulSumArray } from '../matmul/kernels.js';
import { pack } from '../matmul/webgpu.js';
import { outSize, type Geometry } from './im2col.js';

// Layout. Image n's patches for group g form the matrix col[n, g] (K1, ho wo), K1 = C/G kh kw
// rows (plus a row of ones when the convolution has a bias), each row padded to a multiple of 4
// so the GEMM reads it as vec4s. Then
//   forward   y[n, g] (O/G, ho wo)  = [W_g | b_g] @ col[n, g]       (batched over n: y is NCHW as it lands)
//   gW, gb    [gW_g | gb_g]^T       = sum_n col[n, g] @ gy[n, g]^T   (one kernel summing over n)
//   gx        gcol[n, g] (K, h w)   = W_g^T @ gy[n, g], then col2im (batched over n)
// The bias rides in the GEMM as the ones row, so there is no broadcast add in forward and
// no reduction for gb in backward. The grids are 3-D (cell or row, channel, image), so the
// kernels find their indices without the per-element divisions a flat index costs (on
// lavapipe, a CPU implementation, a vector u32 division is one scalar division per lane).

const WG = 64;
const ceil4 = (v: number) => Math.ceil(v / 4) * 4;
const dense = (x: NDArray): NDArray => (x.isContiguous ? x : contiguous(x));
const GEOMETRY = ['kh', 'kw', 'sy', 'sx', 'ph', 'pw', 'dy', 'dx'] as const;
const pick = (g: Geometry): Record<string, number> => Object.fromEntries(GEOMETRY.map((k) => [k, g[k]]));

const HEAD = `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  let ci = p.y0 + gid.y;
  let b = p.z0 + gid.z;`;

const PARAMS = [
  u32('y0'), u32('z0'), u32('c'), u32('cg'), u32('groups'), u32('h'), u32('w'), u32('ho'), u32('wo'), ...GEOMETRY.map(u32),
  u32('taps'), u32('k1'), u32('hwp'), u32('xo'), u32('s0'), u32('s1'), u32('s2'), u32('s3'),
];

/**
 * The patch matrices of x (N, C, H, W): an (N, G, K1, ho wo) view whose rows lie a multiple of
 * 4 apart, K1 = C/G kh kw, plus 1 with `ones` (a last row of ones per group, for the bias).
 */
export function im2colBatched(x: NDArray, g: Geometry, ho: number, wo: number, ones: boolean): NDArray {
  if (x.strides.some((s) => s < 0)) return im2colBatched(contiguous(x), g, ho, wo, ones);
  const [n, c, h, w] = x.shape, G = g.groups, cg = c / G;
  const taps = g.kh * g.kw, k1 = cg * taps + (ones ? 1 : 0), hw = ho * wo, hwp = ceil4(hw);
  const col = empty([n, G, k1, hwp], x.dtype);
  const view = col.view([n, G, k1, hw], [G * k1 * hwp, k1 * hwp, hwp, 1], 0);
  if (col.size === 0) return view;
  const type = elementType(x.dtype);
  const [s0, s1, s2, s3] = x.strides;
  const v = { c, cg, groups: G, h, w, ho, wo, ...pick(g), taps, k1, hwp, xo: x.offset, s0, s1, s2, s3 };
  if (wo % 4 === 0 && type === 'f32') {
    // invocation (r, ci, b) fills 4 neighbouring cells (r / (wo / 4) their output row) of every
    // tap's row for channel ci, a vec4 store each; channel index C writes the ones rows
    const kern = cached('im2colBatched4', () => kernel('im2colBatched4', [{ name: 'X', type: 'f32', role: 'input' }, { name: 'Y', type: 'vec4<f32>', role: 'output' }], PARAMS, WG, `${HEAD}
  let runs = p.wo / 4u;
  if (r >= p.ho * runs) { return; }
  let oy = r / runs;
  let ox0 = (r - oy * runs) * 4u;
  let cell = (oy * p.wo + ox0) / 4u;
  let rowQ = p.hwp / 4u;
  if (ci == p.c) {
    for (var gi = 0u; gi < p.groups; gi++) { Y[((b * p.groups + gi) * p.k1 + p.k1 - 1u) * rowQ + cell] = vec4<f32>(1.0); }
    return;
  }
  let gi = ci / p.cg;
  let row0 = (b * p.groups + gi) * p.k1 + (ci - gi * p.cg) * p.taps;
  let plane = p.xo + b * p.s0 + ci * p.s1;
  var tap = 0u;
  for (var ki = 0u; ki < p.kh; ki++) {
    let y = i32(oy * p.sy + ki * p.dy) - i32(p.ph);
    let inRow = y >= 0 && u32(y) < p.h;
    let base = plane + u32(max(y, 0)) * p.s2;
    for (var kj = 0u; kj < p.kw; kj++) {
      var q = vec4<f32>();
      for (var t = 0u; t < 4u; t++) {
        let xx = i32((ox0 + t) * p.sx + kj * p.dx) - i32(p.pw);
        if (inRow && xx >= 0 && u32(xx) < p.w) { q[t] = X[base + u32(xx) * p.s3]; }
      }
      Y[(row0 + tap) * rowQ + cell] = q;
      tap++;
    }
  }
}`));
    launchPlanes('convolution2d', kern, [x, col], v, ho * (wo / 4), c + (ones ? 1 : 0), n);
    return view;
  }
  // invocation (r, ci, b) writes one row of wo cells: tap r / ho of channel ci at output row
  // r % ho; channel index C (the grid's extra row) writes the ones rows, one per (group, oy)
  const kern = cached(`im2colBatched|${type}`, () => kernel('im2colBatched', [{ name: 'X', type, role: 'input' }, { name: 'Y', type, role: 'output' }], PARAMS, WG, `${HEAD}
  if (ci == p.c) {
    if (r >= p.groups * p.ho) { return; }
    let at = ((b * p.groups + r / p.ho) * p.k1 + p.k1 - 1u) * p.hwp + (r % p.ho) * p.wo;
    for (var ox = 0u; ox < p.wo; ox++) { Y[at + ox] = ${type}(1); }
    return;
  }
  if (r >= p.taps * p.ho) { return; }
  let oy = r % p.ho;
  let tap = r / p.ho;
  let kj = tap % p.kw;
  let ki = tap / p.kw;
  let gi = ci / p.cg;
  let at = ((b * p.groups + gi) * p.k1 + (ci - gi * p.cg) * p.taps + tap) * p.hwp + oy * p.wo;
  let y = i32(oy * p.sy + ki * p.dy) - i32(p.ph);
  let inRow = y >= 0 && u32(y) < p.h;
  let base = p.xo + b * p.s0 + ci * p.s1 + u32(max(y, 0)) * p.s2;
  let x0 = i32(kj * p.dx) - i32(p.pw);
  for (var ox = 0u; ox < p.wo; ox++) {
    let xx = x0 + i32(ox * p.sx);
    var v = ${type}();
    if (inRow && xx >= 0 && u32(xx) < p.w) { v = X[base + u32(xx) * p.s3]; }
    Y[at + ox] = v;
  }
}`));
  launchPlanes('convolution2d', kern, [x, col], v, Math.max(taps * ho, ones ? G * ho : 0), c + (ones ? 1 : 0), n);
  return view;
}

/**
 * The image `shape` (N, C, H, W) summing gcol (N, C kh kw, h w) back into place (the adjoint
 * of im2col): a gather, one invocation per image cell, so no two write one cell.
 */
export function col2imBatched(gcol: NDArray, shape: readonly number[], g: Geometry, ho: number, wo: number): NDArray {
  const [n, c, h, w] = shape;
  const out = empty(shape, gcol.dtype);
  if (out.size === 0) return out;
  const src = dense(gcol);
  const type = elementType(gcol.dtype);
  // undilated windows walk the output cells that cover this one (no divisibility tests),
  // and at unit stride without a single division; dilated ones test every tap
  const kind = g.dy !== 1 || g.dx !== 1 ? 'dilated' : g.sy === 1 && g.sx === 1 ? 'unit' : 'strided';
  const loops = kind === 'dilated' ? `
  for (var ki = 0u; ki < p.kh; ki++) {
    let ty = i32(yy + p.ph) - i32(ki * p.dy);
    if (ty < 0 || u32(ty) % p.sy != 0u) { continue; }
    let oy = u32(ty) / p.sy;
    if (oy >= p.ho) { continue; }
    for (var kj = 0u; kj < p.kw; kj++) {
      let tx = i32(xx + p.pw) - i32(kj * p.dx);
      if (tx < 0 || u32(tx) % p.sx != 0u) { continue; }
      let ox = u32(tx) / p.sx;
      if (ox >= p.wo) { continue; }
      acc += C[cb + (ki * p.kw + kj) * hw + oy * p.wo + ox];
    }
  }` : `
  let ty = i32(yy + p.ph);
  let tx = i32(xx + p.pw);${kind === 'unit' ? `
  let oy0 = max(0, ty - i32(p.kh) + 1);
  let ox0 = max(0, tx - i32(p.kw) + 1);
  let oy1 = min(i32(p.ho) - 1, ty);
  let ox1 = min(i32(p.wo) - 1, tx);` : `
  let oy0 = select(0, (ty - i32(p.kh) + i32(p.sy)) / i32(p.sy), ty + 1 > i32(p.kh));
  let ox0 = select(0, (tx - i32(p.kw) + i32(p.sx)) / i32(p.sx), tx + 1 > i32(p.kw));
  let oy1 = min(i32(p.ho) - 1, ty / i32(p.sy));
  let ox1 = min(i32(p.wo) - 1, tx / i32(p.sx));`}
  for (var oy = oy0; oy <= oy1; oy++) {
    let ki = u32(ty - oy * i32(p.sy));
    for (var ox = ox0; ox <= ox1; ox++) {
      let kj = u32(tx - ox * i32(p.sx));
      acc += C[cb + (ki * p.kw + kj) * hw + u32(oy) * p.wo + u32(ox)];
    }
  }`;
  const kern = cached(`col2imBatched|${type}|${kind}`, () => kernel('col2imBatched', [{ name: 'C', type, role: 'input' }, { name: 'Y', type, role: 'output' }], [
    u32('y0'), u32('z0'), u32('c'), u32('h'), u32('w'), u32('ho'), u32('wo'), ...GEOMETRY.map(u32), u32('co'),
  ], WG, `${HEAD}
  if (r >= p.h * p.w) { return; }
  let yy = r / p.w;
  let xx = r % p.w;
  let plane = b * p.c + ci;
  let hw = p.ho * p.wo;
  let cb = p.co + plane * p.kh * p.kw * hw;
  var acc = ${type}();${loops}
  Y[plane * p.h * p.w + r] = acc;
}`));
  launchPlanes('convolution2d', kern, [src, out], { c, h, w, ho, wo, ...pick(g), co: src.offset }, h * w, c, n);
  return out;
}

/**
 * [W_g | b_g] as a (G, O/G, K1) view with rows a multiple of 4 apart (K1 = C/G kh kw, + 1 with
 * b): the GEMM's left operand, read as vec4s and shared by every image.
 */
function weightRows(W: NDArray, b: NDArray | undefined, G: number): NDArray {
  const o = W.shape[0], k = W.size / o, og = o / G;
  if (b === undefined) return pack(dense(W).reshape([G, og, k]));
  const k1p = ceil4(k + 1);
  const out = empty([G, og, k1p], W.dtype);
  const Wd = dense(W), bd = dense(b);
  const type = elementType(W.dtype);
  const kern = cached(`convWeightRows|${type}`, () => kernel('convWeightRows', [
    { name: 'W', type, role: 'input' }, { name: 'B', type, role: 'input' }, { name: 'Y', type, role: 'output' },
  ], [u32('y0'), u32('z0'), u32('k'), u32('k1p'), u32('o'), u32('wo'), u32('bo')], WG, `${HEAD}
  if (r >= p.k1p) { return; }
  var v = ${type}();
  if (r < p.k) { v = W[p.wo + ci * p.k + r]; } else if (r == p.k) { v = B[p.bo + ci]; }
  Y[ci * p.k1p + r] = v;
}`));
  launchPlanes('convolution2d', kern, [Wd, bd, out], { k, k1p, o, wo: Wd.offset, bo: bd.offset }, k1p, o, 1);
  return out.view([G, og, k + 1], [og * k1p, k1p, 1], 0);
}

/** y (N, O, ho, wo) = conv(x, W) + b, and the patches (kept for gW). */
export function convForwardWebgpu(x: NDArray, W: NDArray, b: NDArray | undefined, g: Geometry): { y: NDArray; col: NDArray } {
  const [n, , h, w] = x.shape, o = W.shape[0], G = g.groups;
  const ho = outSize(h, g.kh, g.sy, g.ph, g.dy, g.coverAll), wo = outSize(w, g.kw, g.sx, g.pw, g.dx, g.coverAll);
  const col = im2colBatched(x, g, ho, wo, b !== undefined);
  const A = weightRows(W, b, G);
  // the same weights for every image: a batch stride of 0
  const y = matmulArray(A.view([n, ...A.shape], [0, ...A.strides], A.offset), col);
  return { y: y.reshape([n, o, ho, wo]), col };
}

/**
 * gW (O, C/G, kh, kw), and gb (O,) when the forward pass had a bias, of y = conv(x, W) + b
 * given gy (N, O, ho, wo); `kept`: forward's patches (with the ones row iff `withBias`).
 */
export function convGradWWebgpu(x: NDArray, gy: NDArray, g: Geometry, withBias: boolean, kept?: NDArray): NDArray[] {
  const [n, c] = x.shape, [, o, ho, wo] = gy.shape, G = g.groups;
  const k = (c / G) * g.kh * g.kw;
  const col = kept ?? im2colBatched(x, g, ho, wo, withBias);
  const gyg = dense(gy).reshape([n, G, o / G, ho * wo]);
  // as [gW_g | gb_g]^T = sum_n col[n, g] @ gy[n, g]^T: the patches, the large operand, are then
  // read as the left one (loaded once per 8 invocations and shared by subgroupBroadcast) and
  // the small gy rows as the right (measured on lavapipe: 1.4x faster than the other way round)
  const gT = matmulSumArray(col, gyg, false, true); // (G, K1, O/G)
  const gW = contiguous(gT.view([G, o / G, k], [gT.strides[0], 1, gT.strides[1]], 0)).reshape([o, c / G, g.kh, g.kw]);
  if (!withBias) return [gW];
  const gb = contiguous(gT.view([G, o / G], [gT.strides[0], 1], k * gT.strides[1])).reshape([o]);
  return [gW, gb];
}

/**
 * The transpose: y (N, Co, outH, outW) from x (N, Ci, h, w) and W (Ci, Co/G, kh, kw): per image
 * and group W_g^T @ x[n, g], summed back into the image by col2im.
 */
export function convTransposeWebgpu(x: NDArray, W: NDArray, g: Geometry, outH: number, outW: number): NDArray {
  const [n, ci, h, w] = x.shape, G = g.groups, cog = W.shape[1];
  const kc = cog * g.kh * g.kw;
  const Wt = pack(dense(W).reshape([G, ci / G, kc]).transpose([0, 2, 1])); // (G, kc, Ci/G), packed once for all images
  const gcol = matmulArray(Wt.view([n, ...Wt.shape], [0, ...Wt.strides], Wt.offset), dense(x).reshape([n, G, ci / G, h * w]));
  return col2imBatched(gcol, [n, cog * G, outH, outW], g, h, w);
}
