// matmul on the GPU: C = A @ B from vec4 loads into register blocks; operands it cannot read as they lie are packed first.

import { collapse } from '../../../compiler/js.js';
import { packParams, type WgslKernel } from '../../../compiler/wgsl.js';
import { NDArray, type DType } from '../../array/ndarray.js';
import { currentDevice } from '../../array/webgpu/device.js';
import { MAX_GROUPS, WG, kernel, range, u32, type Operand, type Params } from '../../array/webgpu/kernel.js';
import { cached, empty, launchGrid } from '../../array/webgpu/launch.js';
import { libraryKernels } from '../../array/library-kernels.js';
import { zeros } from '../../array/xp.js';

// Three kernels from one renderer, picked per device (chooseTiling). Each invocation keeps a
// tm x 4*tn4 block of C in registers and reads A and B as vec4s, so a loaded A value feeds
// 4*tn4 multiply-adds and a B value tm of them.
//  - 'shared': the classic GPU kernel, a workgroup copying 64 x 16 tiles of A and B into
//    workgroup memory and each invocation multiplying 4 x 4 out of them.
//  - 'own': each invocation loads its own rows and columns; no barriers.
//  - 'subgroup' (the `subgroups` feature, subgroups of 8 or more): a workgroup shares its
//    rows, and the A values are loaded once per 8 invocations and handed around with
//    subgroupBroadcast, a register shuffle; each invocation loads only its B columns.
// Why not 'shared' everywhere: lavapipe (Mesa's llvmpipe, the CPU driver CI uses) runs 8
// invocations as one SIMD group but loads from a storage buffer, or from workgroup memory,
// one invocation at a time with a branch and a bounds check each: about 12 instructions
// per float loaded against one for 8 multiply-adds. There the number of loads per
// multiply-add decides the speed, and only the subgroup shuffle takes loads away
// (measured: 'subgroup' 5 to 13 GFLOP/s, 'own' and 'shared' 2 to 5). Those unrolled loads
// also make llvmpipe slow to compile, about a second per kernel at the sizes chosen here.
/** Which way the kernel reads B: as rows of (k, n) ('nn'), or as rows of B^T, i.e. (n, k) ('nt'). */
type BLayout = 'nn' | 'nt';

/**
 * A workgroup of wx x wy invocations; each computes tm rows x 4*tn4 columns of C. Rows
 * 'own': each invocation loads its A rows; 'shared': from a tile in workgroup memory;
 * 'subgroup' (wy = 1, tm a multiple of 8): all invocations of a workgroup share the same
 * tm rows and get A by subgroupBroadcast.
 */
export interface Tiling {
  rows: 'own' | 'subgroup' | 'shared';
  tm: number;
  tn4: number;
  wx: number;
  wy: number;
  /** 'shared': k-groups of 4 per tile copied to workgroup memory between barriers */
  tkg?: number;
}

/** Can this device run the subgroup kernel? It needs the feature and subgroups of 8 or more. */
export function subgroupsUsable(): boolean {
  const { device } = currentDevice();
  return device.features.has('subgroups') && (device.adapterInfo?.subgroupMinSize ?? 0) >= 8;
}

/** A CPU implementation of WebGPU (lavapipe, SwiftShader), where loads cost what is said above. */
function onCpu(): boolean {
  const { device, adapterName } = currentDevice();
  const info = device.adapterInfo;
  return info?.isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader|software/i.test(`${adapterName} ${info?.architecture} ${info?.description}`);
}

/**
 * The tiling for an (m, k) @ (k, n) product on this device. On a CPU the blocks are as
 * large as the registers hold (past that they spill, and llvmpipe takes a second or more to
 * compile each kernel); on a GPU they keep registers for occupancy, and without
 * subgroups the classic 64 x 64 workgroup-memory tile is used. Few distinct tilings, since
 * each one is a kernel to compile.
 */
function chooseTiling(m: number, n: number): Tiling {
  const cpu = onCpu();
  if (subgroupsUsable()) {
    // Whole subgroups only (a partial one need not hold invocations 0..7), and narrow
    // outputs (a 10-class layer) should not leave most of a workgroup idle.
    const most = currentDevice().device.adapterInfo?.subgroupMaxSize ?? 128;
    if (cpu) {
      // One vec4 column per invocation, workgroups of one subgroup: measured on lavapipe over
      // LeNet's convolutions and an MLP's layers, 2 to 4x faster than two columns in 32-wide
      // workgroups (16 x 2 vec4 accumulators spill the 16 AVX registers, and 128 columns a
      // workgroup waste most of a 64-wide image). Rows in blocks of 24 or 16, whichever
      // wastes fewer past m.
      const tm = Math.ceil(m / 24) * 24 <= Math.ceil(m / 16) * 16 ? 24 : 16;
      return { rows: 'subgroup', tm, tn4: 1, wx: Math.max(8, most), wy: 1 };
    }
    const wx = n <= 64 && most <= 8 ? 8 : Math.max(64, most);
    return { rows: 'subgroup', tm: 8, tn4: 2, wx, wy: 1 };
  }
  if (cpu) return { rows: 'own', tm: 8, tn4: 2, wx: 8, wy: 4 };
  return { rows: 'shared', tm: 4, tn4: 1, wx: 16, wy: 16, tkg: 4 };
}

/**
 * a (..., m, k) @ b (..., k, n), strided views with equal batch dims; C is fresh and contiguous.
 * With `bias` (n,), C = a @ b + bias, the add done as each block is stored (linear's epilogue):
 * the caller checks biasEpilogueFits first.
 */
export function matmulWebgpu(a: NDArray, b: NDArray, dtype: DType, bias?: NDArray, relu = false): NDArray {
  if (dtype !== 'float32' || a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new Error(`matmul: the GPU multiplies float32 matrices, got a ${a.dtype} and b ${b.dtype}; cast them first`);
  }
  const r = a.ndim;
  return matmulWith(a, b, chooseTiling(a.shape[r - 2], b.shape[r - 1]), bias, relu);
}

/**
 * Whether the store can add `bias` (n,) for a product n columns wide: float32, and read as
 * the store reads C (vec4s when n is a multiple of 4: unit stride and a 4-aligned offset).
 */
export function biasEpilogueFits(bias: NDArray, n: number): boolean {
  if (bias.dtype !== 'float32' || bias.ndim !== 1 || bias.shape[0] !== n) return false;
  return n % 4 !== 0 || ((bias.strides[0] === 1 || n === 1) && bias.offset % 4 === 0);
}

/**
 * sum over the first axis of a (z, ..., m, k) @ b (z, ..., k, n): C (..., m, n), the products
 * added in registers (one kernel, no (z, ..., m, n) temporary). A convolution's weight
 * gradient is this sum over the batch of per-image products.
 */
export function matmulSumWebgpu(a: NDArray, b: NDArray): NDArray {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new Error(`matmul: the GPU multiplies float32 matrices, got a ${a.dtype} and b ${b.dtype}; cast them first`);
  }
  return matmulWith(a, b, chooseTiling(a.shape[a.ndim - 2], b.shape[b.ndim - 1]), undefined, false, true);
}

/**
 * matmul with a given tiling (tests and benchmarks compare tilings through this); with
 * `sumFirst`, the products are summed over the first axis (see matmulSumWebgpu).
 */
export function matmulWith(a: NDArray, b: NDArray, t: Tiling, bias?: NDArray, relu = false, sumFirst = false): NDArray {
  const r = a.ndim;
  const m = a.shape[r - 2], k = a.shape[r - 1], n = b.shape[r - 1];
  const batchShape = a.shape.slice(sumFirst ? 1 : 0, r - 2);
  const out = empty([...batchShape, m, n], 'float32');
  if (out.size === 0) return out;
  const nz = sumFirst ? a.shape[0] : 1;
  // no products to sum: zeros (the kernel's loop would store them, but a grid needs a batch)
  if (nz === 0) return zeros(out.shape, 'float32', 'webgpu');
  // A is read as rows of vec4 along k; B as rows along n, or as rows of B^T along k
  const A = readsAsRows(a, r - 2, r - 1) ? a : pack(a);
  let B = b, layout: BLayout = 'nn';
  if (!readsAsRows(b, r - 2, r - 1)) {
    if (readsAsRows(b, r - 1, r - 2)) layout = 'nt';
    else B = pack(b);
  }
  const first = sumFirst ? 1 : 0;
  const batch = collapse({ shape: batchShape, strides: [A.strides.slice(first, r - 2), B.strides.slice(first, r - 2)], offsets: [] });
  const rank = batch.shape.length;
  // rows of C a whole number of vec4s long are stored a vec4 at a time
  const v4 = n % 4 === 0;
  const withBias = bias !== undefined, withRelu = withBias && relu;
  const kern = cached(`matmul|${t.rows},${t.tm},${t.tn4},${t.wx},${t.wy},${t.tkg}|${layout}|${rank}|${v4}${withBias ? '|bias' : ''}${withRelu ? '|relu' : ''}${sumFirst ? '|sum' : ''}`, () => renderMatmul(t, layout, rank, v4, withBias, withRelu, sumFirst));
  const n4 = Math.ceil(n / 4);
  // vec4 units: readsAsRows guaranteed the divisions are exact (0 where a dim has size 1)
  const q = (x: NDArray, d: number) => (x.shape[d] === 1 ? 0 : x.strides[d] / 4);
  const v: Record<string, number> = {
    m, n, k, kg: Math.ceil(k / 4), n4,
    aOff: A.offset / 4, aSm: q(A, r - 2), bOff: B.offset / 4, bS: layout === 'nn' ? q(B, r - 2) : q(B, r - 1), tkg: tileOf(t).tkg,
  };
  if (sumFirst) Object.assign(v, { nz, saz: q(A, 0), sbz: q(B, 0) });
  // the bias in the store's units (vec4s when v4; biasEpilogueFits made that exact), and its element stride otherwise
  if (bias !== undefined) {
    v.biasOff = v4 ? bias.offset / 4 : bias.offset;
    v.biasS = bias.shape[0] === 1 ? 0 : bias.strides[0];
  }
  batch.shape.forEach((s, d) => {
    v[`nb${d}`] = s;
    v[`sa${d}`] = s === 1 ? 0 : batch.strides[0][d] / 4;
    v[`sb${d}`] = s === 1 ? 0 : batch.strides[1][d] / 4;
  });
  const rowGroups = Math.ceil(m / (t.tm * t.wy)), colGroups = Math.ceil(n4 / (t.tn4 * t.wx));
  const nb = batchShape.reduce((p, s) => p * s, 1);
  // past 65535 workgroups in a dimension, more dispatches each take a slice of the grid
  for (let z0 = 0; z0 < nb; z0 += MAX_GROUPS) {
    for (let y0 = 0; y0 < rowGroups; y0 += MAX_GROUPS) {
      for (let x0 = 0; x0 < colGroups; x0 += MAX_GROUPS) {
        launchGrid(kern, bias === undefined ? [A, B, out] : [A, B, bias, out], packParams(kern, { ...v, row0: y0, col0: x0, batch0: z0 }), [
          Math.min(MAX_GROUPS, colGroups - x0), Math.min(MAX_GROUPS, rowGroups - y0), Math.min(MAX_GROUPS, nb - z0),
        ]);
      }
    }
  }
  return out;
}

/**
 * Whether `x` can be read as rows (dim `row`) of vec4s along dim `inner`: unit inner
 * stride, and the offset and every other stride a multiple of 4 elements, so each vec4 is
 * aligned. The last vec4 of a row, partly past k, then still lies in the same 16-byte
 * block as a real element, so it stays inside the buffer; the kernel zeroes its extra lanes.
 */
function readsAsRows(x: NDArray, row: number, inner: number): boolean {
  if (x.strides[inner] !== 1 && x.shape[inner] !== 1) return false;
  if (x.offset % 4 !== 0) return false;
  return x.shape.every((s, d) => d === inner || s === 1 || x.strides[d] % 4 === 0) && row !== inner;
}

/**
 * A copy of `x` whose last two dims are row-major with rows padded to a multiple of 4
 * (zeros), returned as a view of x's shape, which readsAsRows accepts. Exported for callers
 * that reuse one packed operand across a broadcast batch (a convolution's weights).
 */
export function pack(x: NDArray): NDArray {
  const r = x.ndim;
  const rows = x.shape[r - 2], cols = x.shape[r - 1], colsP = Math.ceil(cols / 4) * 4;
  const batchShape = x.shape.slice(0, r - 2);
  const padded = empty([...batchShape, rows, colsP], 'float32');
  const batch = collapse({ shape: batchShape, strides: [x.strides.slice(0, r - 2)], offsets: [x.offset] });
  const rank = batch.shape.length;
  const kern = cached(`pack|${rank}`, () => packKernel(rank));
  const nb = batch.shape.reduce((a, s) => a * s, 1);
  const v: Record<string, number> = { rows, cols, colsP, xo: x.offset, sr: x.strides[r - 2], sc: x.strides[r - 1] };
  batch.shape.forEach((s, d) => {
    v[`nb${d}`] = s;
    v[`sb${d}`] = batch.strides[0][d];
  });
  // a grid of (row, PACK_COLS columns, batch): past 65535 workgroups in a dimension, more dispatches each take a slice
  const rowGroups = Math.ceil(rows / WG), colGroups = Math.ceil(colsP / PACK_COLS);
  if (padded.size > 0) {
    for (let z0 = 0; z0 < nb; z0 += MAX_GROUPS) {
      for (let y0 = 0; y0 < colGroups; y0 += MAX_GROUPS) {
        for (let x0 = 0; x0 < rowGroups; x0 += MAX_GROUPS) {
          launchGrid(kern, [x, padded], packParams(kern, { ...v, row0: x0 * WG, col0: y0 * PACK_COLS, batch0: z0 }), [
            Math.min(MAX_GROUPS, rowGroups - x0), Math.min(MAX_GROUPS, colGroups - y0), Math.min(MAX_GROUPS, nb - z0),
          ]);
        }
      }
    }
  }
  return new NDArray(padded.storage, x.shape.slice(), [...padded.strides.slice(0, r - 1), 1], 0);
}

/** Columns of one row an invocation of pack copies. */
const PACK_COLS = 16;

/**
 * pack's kernel for `rank` batch dims: an invocation per row of PACK_COLS columns of the
 * padded copy, on a grid of (row, column block, batch). Lavapipe has no vector integer
 * division, so a flat index split into column, row and batch by % and / cost six scalar
 * divisions an element. Packing transposed views of a 100 x 100, a 100 x 784 and a 10 x 100
 * matrix (the MLP's gradients; 100 packs per GPU wait) took 167, 1033 and 64 us that way,
 * and 102, 312 and 44 us on this grid. Lanes run along rows, not columns, so a matrix a few
 * columns wide (a 10-class layer's) still fills a workgroup's lanes.
 */
function packKernel(rank: number): WgslKernel {
  const params: Params = [
    u32('rows'), u32('cols'), u32('colsP'), u32('xo'), u32('sr'), u32('sc'), u32('col0'), u32('row0'), u32('batch0'),
    ...range(rank).flatMap((d) => [u32(`nb${d}`), u32(`sb${d}`)]),
  ];
  // one batch dim (every 2-D product's [1]): the batch index is already that dim's index
  const batchOffset = rank === 1 ? '  let xb = b * p.sb0;' : decomposeBatch(rank, 'b');
  return kernel('pack', [{ name: 'X', type: 'f32', role: 'input' }, { name: 'Y', type: 'f32', role: 'output' }], params, WG, `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = p.row0 + gid.x;
  let c0 = p.col0 + gid.y * ${PACK_COLS}u;
  let b = p.batch0 + gid.z;
  if (r >= p.rows) { return; }
${batchOffset}
  let x0 = p.xo + xb + r * p.sr;
  let y0 = (b * p.rows + r) * p.colsP;
  for (var c = c0; c < min(c0 + ${PACK_COLS}u, p.colsP); c++) {
    var v = 0.0;
    if (c < p.cols) { v = X[x0 + c * p.sc]; }
    Y[y0 + c] = v;
  }
}`);
}

/** `xb`: the element offset of batch index `from` in X, over batch dims p.nb<d> with strides p.sb<d>. */
function decomposeBatch(rank: number, from: string): string {
  const L = [`var rb = ${from};`, 'var xb = 0u;'];
  for (let d = rank - 1; d >= 0; d--) L.push(`xb += (rb % p.nb${d}) * p.sb${d}; rb /= p.nb${d};`);
  return L.map((l) => `  ${l}`).join('\n');
}

const X4 = ['x', 'y', 'z', 'w'];

function renderMatmul(t: Tiling, layout: BLayout, batchRank: number, v4: boolean, bias = false, relu = false, sum = false): WgslKernel {
  const { tm, tn4, wx, wy } = t;
  const sg = t.rows === 'subgroup', shared = t.rows === 'shared';
  const params: Params = [
    u32('m'), u32('n'), u32('k'), u32('kg'), u32('n4'), u32('row0'), u32('col0'), u32('batch0'),
    u32('aOff'), u32('aSm'), u32('bOff'), u32('bS'), u32('tkg'),
    ...range(batchRank).flatMap((d) => [u32(`nb${d}`), u32(`sa${d}`), u32(`sb${d}`)]),
    ...(bias ? [u32('biasOff'), u32('biasS')] : []),
    ...(sum ? [u32('nz'), u32('saz'), u32('sbz')] : []),
  ];
  const I = range(tm), J = range(tn4), T = range(4);
  // linear's epilogue: the bias of the stored column(s), added in registers as the block is stored
  // and relu after it, as F.relu's select(v <= 0, 0, v) (a NaN stays NaN)
  const epiV4 = (v: string) => (relu ? `select(${v}, vec4<f32>(), ${v} <= vec4<f32>())` : v);
  const epi1 = (v: string) => (relu ? `select(${v}, 0.0, ${v} <= 0.0)` : v);
  const plusV4 = (j: number) => (bias ? ` + Bias[p.biasOff + col + ${j}u]` : '');
  const plus1 = (j: number, q: number) => (bias ? ` + Bias[p.biasOff + (col4_${j} + ${q}u) * p.biasS]` : '');
  const ind = (lines: string[], depth: number) => lines.map((l) => `${'  '.repeat(depth)}${l}`).join('\n');

  // where each row of A and each column group of B starts (vec4 units), clamped into the
  // matrix: blocks past its edge repeat the last row or column and are never stored
  const rowStarts = sg
    ? range(tm / 8).map((g) => `let ar${g} = aZ + min(row + ${g * 8}u + lane8, p.m - 1u) * p.aSm;`)
    : I.map((i) => `let ar${i} = aZ + min(row + ${i}u, p.m - 1u) * p.aSm;`);
  const colStarts = layout === 'nn'
    ? J.map((j) => `let bc${j} = bZ + min(col + ${j}u, p.n4 - 1u);`)
    : J.flatMap((j) => T.map((q) => `let bc${j}_${q} = bZ + min((col + ${j}u) * 4u + ${q}u, p.n - 1u) * p.bS;`));

  // the A values of rows 0..tm at k-group `kq` (the 4 k's kb..kb+3, km saying which exist):
  // loaded, or broadcast from the invocation that loaded them. Past k both sides read as
  // exact zeros, never as whatever lies beyond (which could be Inf or NaN).
  const loadA = (kq: string) => sg
    ? [...range(tm / 8).map((g) => `let av${g} = select(vec4<f32>(), A[ar${g} + ${kq}], km);`),
      ...I.map((i) => `let a${i} = subgroupBroadcast(av${Math.floor(i / 8)}, ${i % 8}u);`)]
    : I.map((i) => `let a${i} = select(vec4<f32>(), A[ar${i} + ${kq}], km);`);
  const loadB = (kq: string) => layout === 'nn'
    ? T.flatMap((s) => J.map((j) => `let b${s}_${j} = select(vec4<f32>(), B[bc${j} + min(kb + ${s}u, p.k - 1u) * p.bS], kb + ${s}u < p.k);`))
    : J.flatMap((j) => T.map((q) => `let w${j}_${q} = select(vec4<f32>(), B[bc${j}_${q} + ${kq}], km);`));
  const update = I.flatMap((i) => J.map((j) => layout === 'nn'
    ? `c${i}_${j} = c${i}_${j} + (a${i}.x * b0_${j} + a${i}.y * b1_${j} + a${i}.z * b2_${j} + a${i}.w * b3_${j});`
    : `c${i}_${j} = c${i}_${j} + vec4<f32>(${T.map((q) => `dot(a${i}, w${j}_${q})`).join(', ')});`));
  const stores = v4
    ? I.flatMap((i) => J.map((j) => `if (row + ${i}u < p.m && col + ${j}u < p.n4) { C[cBase + (row + ${i}u) * p.n4 + col + ${j}u] = ${epiV4(`(c${i}_${j}${plusV4(j)})`)}; }`))
    : I.flatMap((i) => J.flatMap((j) => T.map((q) =>
      `if (row + ${i}u < p.m && col4_${j} + ${q}u < p.n) { C[cBase + (row + ${i}u) * p.n + col4_${j} + ${q}u] = ${epi1(`(c${i}_${j}.${X4[q]}${plus1(j, q)})`)}; }`)));
  const batch = range(batchRank).reverse().map((d) =>
    `let z${d} = rz % p.nb${d}; rz /= p.nb${d}; aBase += z${d} * p.sa${d}; bBase += z${d} * p.sb${d};`);

  const body = `${shared ? sharedDecls(t, layout) : ''}
// C (batch, m, n) = A @ B, ${layout === 'nn' ? 'B read as rows of (k, n)' : 'B read as rows of B^T (n, k)'}; each invocation
// computes ${tm} rows x ${4 * tn4} columns${sg ? ', the rows shared by its workgroup and A passed around by subgroupBroadcast' : ''}.
// Offsets and strides are in vec4s; u32 arithmetic wraps, so negative strides land right.
@compute @workgroup_size(${sg ? wx : `${wx}, ${wy}`})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>${sg ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}${shared ? ', @builtin(local_invocation_index) li: u32' : ''}) {
  let z = p.batch0 + wid.z;
  var rz = z;
  var aBase = p.aOff;
  var bBase = p.bOff;
${ind(batch, 1)}
  let row = ${sg ? `(p.row0 + wid.y) * ${tm}u` : `((p.row0 + wid.y) * ${wy}u + lid.y) * ${tm}u`};
  let col = ((p.col0 + wid.x) * ${wx}u + lid.x) * ${tn4}u;${sg ? '\n  // any subgroup of 8 or more: invocations 0..7 load the rows, all others repeat them\n  let lane8 = lane & 7u;' : ''}
${ind(I.flatMap((i) => J.map((j) => `var c${i}_${j} = vec4<f32>();`)), 1)}
${sum ? '  // C sums the products of the nz matrix pairs along the first axis\n  for (var zr = 0u; zr < p.nz; zr++) {\n  let aZ = aBase + zr * p.saz;\n  let bZ = bBase + zr * p.sbz;' : '  let aZ = aBase;\n  let bZ = bBase;'}
${ind([...rowStarts, ...colStarts], 1)}
${shared ? sharedLoop(t, layout, update) : `  for (var kq = 0u; kq < p.kg; kq++) {
    let kb = kq * 4u;
    let km = vec4<u32>(kb) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.k);
${ind([...loadA('kq'), ...loadB('kq'), ...update], 2)}
  }`}${sum ? '\n  }' : ''}
  let cBase = z * p.m * ${v4 ? 'p.n4' : 'p.n'};
${v4 ? '' : ind(J.map((j) => `let col4_${j} = (col + ${j}u) * 4u;`), 1)}
${ind(stores, 1)}
}`;
  const cType: Operand['type'] = v4 ? 'vec4<f32>' : 'f32';
  return kernel('matmul', [
    { name: 'A', type: 'vec4<f32>', role: 'input' }, { name: 'B', type: 'vec4<f32>', role: 'input' },
    ...(bias ? [{ name: 'Bias', type: cType, role: 'input' as const }] : []),
    { name: 'C', type: cType, role: 'output' },
  ], params, wx * wy, body, sg ? ['subgroups'] : []);
}

// ---- the workgroup-memory variant ---------------------------------------------------------

/** Tile sizes of the 'shared' variant: rows, vec4 column groups and k-groups per tile. */
function tileOf(t: Tiling): { bm: number; bn4: number; tkg: number; a: number; b: number } {
  const bm = t.wy * t.tm, bn4 = t.wx * t.tn4, tkg = t.tkg ?? 4;
  return { bm, bn4, tkg, a: bm * tkg, b: 4 * bn4 * tkg };
}

function sharedDecls(t: Tiling, layout: BLayout): string {
  const { a, b } = tileOf(t);
  return `
// one tile of A (rows x k-groups) and of B (${layout === 'nn' ? 'k rows x column groups' : 'columns x k-groups'}), vec4s along ${layout === 'nn' ? 'k and n' : 'k'}
var<workgroup> As: array<vec4<f32>, ${a}>;
var<workgroup> Bs: array<vec4<f32>, ${b}>;
`;
}

/**
 * The k loop of the 'shared' variant: the workgroup copies a tile of A and B into workgroup
 * memory (k's past k as zeros), then each invocation multiplies its block out of it.
 */
function sharedLoop(t: Tiling, layout: BLayout, update: string[]): string {
  const { tm, tn4, wx, wy } = t;
  const { bm, bn4, tkg, a, b } = tileOf(t);
  const P = wx * wy;
  // the P invocations copy n vec4s, element e = li + P * round; a last partial round is guarded
  const fill = (n: number, lines: string[]) => range(Math.ceil(n / P)).map((round) => (
    (round + 1) * P <= n
      ? `{ let e = li + ${round * P}u; ${lines.join(' ')} }`
      : `{ let e = li + ${round * P}u; if (e < ${n}u) { ${lines.join(' ')} } }`));
  // k-groups past the last one are clamped reads made zero, as are the k's past k in it
  const kMask = 'vec4<u32>(g * 4u) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.k)';
  const fillA = fill(a, [
    `let g = g0 + e % ${tkg}u;`,
    `As[e] = select(vec4<f32>(), A[aZ + min(tileRow + e / ${tkg}u, p.m - 1u) * p.aSm + min(g, p.kg - 1u)], ${kMask});`,
  ]);
  const fillB = layout === 'nn'
    ? fill(b, [
      `let kk = g0 * 4u + e / ${bn4}u;`,
      `Bs[e] = select(vec4<f32>(), B[bZ + min(kk, p.k - 1u) * p.bS + min(tileCol + e % ${bn4}u, p.n4 - 1u)], kk < p.k);`,
    ])
    : fill(b, [
      `let g = g0 + e % ${tkg}u;`,
      `Bs[e] = select(vec4<f32>(), B[bZ + min(tileCol * 4u + e / ${tkg}u, p.n - 1u) * p.bS + min(g, p.kg - 1u)], ${kMask});`,
    ]);
  const I = range(tm), J = range(tn4), T = range(4);
  const readA = I.map((i) => `let a${i} = As[(lid.y * ${tm}u + ${i}u) * ${tkg}u + g];`);
  const readB = layout === 'nn'
    ? T.flatMap((s) => J.map((j) => `let b${s}_${j} = Bs[(g * 4u + ${s}u) * ${bn4}u + lid.x * ${tn4}u + ${j}u];`))
    : J.flatMap((j) => T.map((q) => `let w${j}_${q} = Bs[((lid.x * ${tn4}u + ${j}u) * 4u + ${q}u) * ${tkg}u + g];`));
  const ind = (lines: string[], depth: number) => lines.map((l) => `${'  '.repeat(depth)}${l}`).join('\n');
  return `  let tileRow = (p.row0 + wid.y) * ${bm}u;
  let tileCol = (p.col0 + wid.x) * ${bn4}u;
  for (var g0 = 0u; g0 < p.kg; g0 += ${tkg}u) {
${ind([...fillA, ...fillB], 2)}
    workgroupBarrier();
    // the bound comes from Params only so that the compiler does not unroll the loop
    for (var g = 0u; g < p.tkg; g++) {
${ind([...readA, ...readB, ...update], 3)}
    }
    workgroupBarrier();
  }`;
}

// A built app creates, in the background, every kernel chooseTiling and matmulWith pick for a
// product whose batch dims collapse to one (2-D ones, the linear layers' and their gradients',
// have the batch [1]), whatever the sizes: every tiling chooseTiling gives (rows, narrow n or not),
// both ways of reading B, rows of vec4s or not, plain, + bias, + bias + relu; and pack for an
// operand read transposed. Batch dims that do not collapse compile at first use.
libraryKernels(() => {
  // every (m, n) class chooseTiling tells apart: rows in blocks of 16 or 24 (m = 1 or 24), narrow n or not
  const sizes = [1, 24].flatMap((m) => [1, 1 << 20].map((n) => [m, n] as const));
  const tilings = new Map(sizes.map(([m, n]) => chooseTiling(m, n)).map((t) => [JSON.stringify(t), t]));
  const epilogues = [[false, false], [true, false], [true, true]] as const;
  return [
    packKernel(1),
    ...[...tilings.values()].flatMap((t) => (['nn', 'nt'] as const).flatMap((layout) => [true, false].flatMap((v4) =>
      epilogues.map(([bias, relu]) => renderMatmul(t, layout, 1, v4, bias, relu))))),
  ];
});
