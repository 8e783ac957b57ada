// Hand-written WGSL kernels for the ops that are not elementwise: matmul, argmax, gather/scatter, random.

import { collapse } from '../../../compiler/js.js';
import { packParams } from '../../../compiler/wgsl.js';
import type { DType, NDArray } from '../ndarray.js';
import type { RandomState } from '../random.js';
import { cached, empty, launch } from './launch.js';
import { WG, decompose, elementType, f32, flatMain, kernel, range, u32, type Params } from './kernels/common.js';

export { matmul } from './kernels/matmul.js';

// ---- argmax / argmin ------------------------------------------------------------------------

/** int32 index of the max (min) along `axis`, the axis removed; the first wins on ties. */
export function argReduce(kind: 'argmax' | 'argmin', x: NDArray, axis: number): NDArray {
  const outShape = x.shape.filter((_, d) => d !== axis);
  const out = empty(outShape, 'int32');
  if (out.size === 0) return out;
  const others = x.shape.map((_, d) => d).filter((d) => d !== axis);
  const layout = collapse({ shape: others.map((d) => x.shape[d]), strides: [others.map((d) => x.strides[d])], offsets: [x.offset] });
  const rank = layout.shape.length;
  const type = elementType(x.dtype);
  const kern = cached(`${kind}|${type}|${rank}`, () => {
    const params: Params = [u32('n'), u32('len'), u32('step'), u32('xo'), ...range(rank).flatMap((d) => [u32(`n${d}`), u32(`s${d}`)])];
    // numpy's semantics, as on the CPU: the first of equal values stays, and the first NaN
    // wins (tested on the bits, which no fast-math folding can assume away)
    const nan = (v: string) => (type === 'i32' ? 'false' : `((bitcast<u32>(${v}) & 0x7fffffffu) > 0x7f800000u)`);
    const body = `${flatMain(WG)}
${decompose('i', 'i', rank, 'n')}
  let base = p.xo + ${range(rank).map((d) => `i${d} * p.s${d}`).join(' + ')};
  var best = 0u;
  var bv = X[base];
  for (var j = 1u; j < p.len; j++) {
    let v = X[base + j * p.step];
    let better = !${nan('bv')} && (v ${kind === 'argmax' ? '>' : '<'} bv || ${nan('v')});
    bv = select(bv, v, better);
    best = select(best, j, better);
  }
  Y[i] = i32(best);
}`;
    return kernel(kind, [{ name: 'X', type, role: 'input' }, { name: 'Y', type: 'i32', role: 'output' }], params, WG, body);
  });
  const v: Record<string, number> = { n: out.size, len: x.shape[axis], step: x.strides[axis], xo: x.offset };
  layout.shape.forEach((s, d) => {
    v[`n${d}`] = s;
    v[`s${d}`] = layout.strides[0][d];
  });
  launch(kern, [x, out], packParams(kern, v), out.size);
  return out;
}

// ---- selectItem / scatterItem ---------------------------------------------------------------

function checkLabels(t: NDArray, op: string): void {
  if (t.dtype !== 'int32') throw new Error(`${op}: t must be an int32 array of indices, got ${t.dtype}`);
}

/** y[i] = x[i, t[i]] for x (N, C), t int32 (N,); a label outside [0, C) gives 0. */
export function selectItem(x: NDArray, t: NDArray): NDArray {
  checkLabels(t, 'selectItem');
  const [n, c] = x.shape;
  const out = empty([n], x.dtype);
  if (n === 0) return out;
  const type = elementType(x.dtype);
  const kern = cached(`selectItem|${type}`, () => kernel('selectItem', [
    { name: 'X', type, role: 'input' }, { name: 'T', type: 'i32', role: 'input' }, { name: 'Y', type, role: 'output' },
  ], [u32('n'), u32('c'), u32('xo'), u32('xs0'), u32('xs1'), u32('to'), u32('ts')], WG, `${flatMain(WG)}
  let j = T[p.to + i * p.ts];
  var v = ${type}();
  if (j >= 0 && u32(j) < p.c) { v = X[p.xo + i * p.xs0 + u32(j) * p.xs1]; }
  Y[i] = v;
}`));
  const params = packParams(kern, { n, c, xo: x.offset, xs0: x.strides[0], xs1: x.strides[1], to: t.offset, ts: t.strides[0] });
  launch(kern, [x, t, out], params, n);
  return out;
}

/** Zeros of `shape` (N, C) with gy[i] at [i, t[i]]; a label outside [0, C) writes nothing. */
export function scatterItem(gy: NDArray, t: NDArray, shape: readonly number[]): NDArray {
  checkLabels(t, 'scatterItem');
  const [n, c] = shape;
  const out = empty(shape, gy.dtype);
  if (n * c === 0) return out;
  const type = elementType(gy.dtype);
  // one invocation per output element: zeros and the scattered values in one pass
  const kern = cached(`scatterItem|${type}`, () => kernel('scatterItem', [
    { name: 'G', type, role: 'input' }, { name: 'T', type: 'i32', role: 'input' }, { name: 'Y', type, role: 'output' },
  ], [u32('n'), u32('c'), u32('go'), u32('gs'), u32('to'), u32('ts')], WG, `${flatMain(WG)}
  let row = i / p.c;
  let j = T[p.to + row * p.ts];
  var v = ${type}();
  if (j >= 0 && u32(j) == i % p.c) { v = G[p.go + row * p.gs]; }
  Y[i] = v;
}`));
  const params = packParams(kern, { n: n * c, c, go: gy.offset, gs: gy.strides[0], to: t.offset, ts: t.strides[0] });
  launch(kern, [gy, t, out], params, n * c);
  return out;
}

// ---- random ---------------------------------------------------------------------------------

/**
 * U[low, high) samples made on the GPU: element i is a hash of (seed, i), the seed drawn
 * from `rng`, so seeding the global stream reproduces GPU runs too. The hash is two rounds
 * of PCG's output permutation (Jarzynski and Olano, "Hash Functions for GPU Rendering",
 * 2020); for a fixed seed it is a bijection of i, so no value repeats within 2^32 draws.
 */
export function randomUniform(shape: readonly number[], low: number, high: number, dtype: DType, rng: RandomState): NDArray {
  const out = empty(shape, dtype);
  const seed = rng.nextU32();
  if (out.size === 0) return out;
  const type = elementType(dtype);
  const kern = cached(`randomUniform|${type}`, () => kernel('randomUniform', [{ name: 'Y', type, role: 'output' }],
    [u32('n'), u32('seed'), f32('low'), f32('scale'), f32('below')], WG, `
fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

${flatMain(WG)}
  let h = pcg(pcg(i ^ pcg(p.seed)) + p.seed);
  // the top 24 bits: exactly representable, so u < 1
  let u = f32(h >> 8u) * (1.0 / 16777216.0);
  // low + scale * u can round up to high: keep the largest float below it instead
  let y = min(p.low + p.scale * u, p.below);
  Y[i] = ${type === 'i32' ? 'i32(y)' : 'y'};
}`));
  const lo = Math.fround(low), hi = Math.fround(high);
  const params = packParams(kern, { n: out.size, seed, low: lo, scale: hi - lo, below: hi > lo ? nextBelow(hi) : lo });
  launch(kern, [out], params, out.size);
  return out;
}

/** The largest float32 below `x` (a finite float32). */
function nextBelow(x: number): number {
  const f = new Float32Array([x]);
  const u = new Int32Array(f.buffer);
  if (x === 0) return -1.401298464324817e-45;
  u[0] += x > 0 ? -1 : 1;
  return f[0];
}
