// Property test: every public op (F's exports) on random shapes, axes, indices and options, valid and invalid, against plain-JS references.

import test from 'ava';
import fc from 'fast-check';
import { F, NDArray, Variable, array, testMode, type Device } from '../../runtime/index.js';
import { slice } from '../../runtime/ops/indexing.js';
import { useDevices } from '../helpers.js';
import { geluRef, hardSigmoidRef, logSumExpRef, refAvgPool, refConv, refDeconv, refEmbed, refLrn, refLstm, refMaxPool, refUnpool } from '../ops/references.js';

const devices = await useDevices(test);

// ---- plain-JS arrays and references ------------------------------------------------------

/** A reference array: row-major values and a shape, or `INVALID` where NumPy/Chainer refuse. */
interface Ref { shape: number[]; data: number[] }
const INVALID = Symbol('invalid');
type Out = Ref | Ref[] | typeof INVALID;

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const strides = (s: readonly number[]) => { const r: number[] = []; let acc = 1; for (let d = s.length - 1; d >= 0; d--) { r[d] = acc; acc *= s[d]; } return r; };
const unravel = (i: number, s: readonly number[]) => { const idx: number[] = []; for (let d = s.length - 1; d >= 0; d--) { idx[d] = i % s[d]; i = Math.floor(i / s[d]); } return idx; };
const at = (x: Ref, idx: readonly number[]) => x.data[idx.reduce((p, v, d) => p + v * strides(x.shape)[d], 0)];
const f32 = (v: number) => Math.fround(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);

function broadcast(shapes: readonly (readonly number[])[]): number[] | null {
  const rank = shapes.reduce((r, s) => Math.max(r, s.length), 0);
  const out: number[] = [];
  for (let d = 0; d < rank; d++) {
    let n = 1;
    for (const s of shapes) {
      const m = s[d - (rank - s.length)] ?? 1;
      if (m !== 1) { if (n !== 1 && n !== m) return null; n = m; }
    }
    out.push(n);
  }
  return out;
}
function mapRef(fn: (...v: number[]) => number, ...xs: Ref[]): Ref | typeof INVALID {
  const shape = broadcast(xs.map((x) => x.shape));
  if (shape === null) return INVALID;
  const data = Array.from({ length: size(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    return fn(...xs.map((x) => at(x, idx.slice(shape.length - x.shape.length).map((v, d) => (x.shape[d] === 1 ? 0 : v)))));
  });
  return { shape, data };
}
function normAxisRef(a: unknown, ndim: number): number | null {
  if (!isInt(a) || a < -ndim || a >= ndim) return null;
  return a < 0 ? a + ndim : a;
}
function axesRef(axis: unknown, ndim: number): number[] | null {
  if (axis === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axis === 'number' ? [axis] : Array.isArray(axis) ? axis : null;
  if (list === null) return null;
  const out = list.map((a) => normAxisRef(a, ndim));
  if (out.some((a) => a === null) || new Set(out).size !== out.length) return null;
  return (out as number[]).sort((a, b) => a - b);
}
function reduceRef(x: Ref, axis: unknown, keepdims: unknown, op: (vs: number[]) => number, emptyInvalid = false): Out {
  const axes = axesRef(axis, x.shape.length);
  if (axes === null || (keepdims !== undefined && typeof keepdims !== 'boolean')) return INVALID;
  if (emptyInvalid && size(x.shape) === 0) return INVALID;
  const kept = x.shape.map((n, d) => (axes.includes(d) ? 1 : n));
  const groups: number[][] = Array.from({ length: size(kept) }, () => []);
  x.data.forEach((v, i) => {
    const idx = unravel(i, x.shape).map((k, d) => (axes.includes(d) ? 0 : k));
    groups[idx.reduce((p, k, d) => p + k * strides(kept)[d], 0)].push(v);
  });
  return { shape: keepdims ? kept : x.shape.filter((_, d) => !axes.includes(d)), data: groups.map(op) };
}
const sumOf = (vs: number[]) => vs.reduce((a, b) => a + b, 0);
const nanMax = (vs: number[]) => (vs.some(Number.isNaN) ? NaN : Math.max(...vs));
const nanMin = (vs: number[]) => (vs.some(Number.isNaN) ? NaN : Math.min(...vs));
function argRef(vs: number[], better: (a: number, b: number) => boolean): number {
  let best = 0;
  for (let j = 1; j < vs.length; j++) if (!Number.isNaN(vs[best]) && (Number.isNaN(vs[j]) || better(vs[j], vs[best]))) best = j;
  return best;
}
function transposeRef(x: Ref, axes: readonly number[]): Ref {
  const shape = axes.map((a) => x.shape[a]);
  return { shape, data: Array.from({ length: size(shape) }, (_, i) => { const idx = unravel(i, shape); const src: number[] = []; axes.forEach((a, d) => (src[a] = idx[d])); return at(x, src); }) };
}
function getItemRef(x: Ref, index: readonly unknown[]): Out {
  const consumes = index.filter((i) => i !== null && i !== '...').length;
  if (index.filter((i) => i === '...').length > 1 || consumes > x.shape.length) return INVALID;
  const full: unknown[] = [];
  for (const i of index) if (i === '...') for (let k = 0; k < x.shape.length - consumes; k++) full.push(slice()); else full.push(i);
  while (full.filter((i) => i !== null).length < x.shape.length) full.push(slice());
  const outShape: number[] = [];
  const picks: ((k: number) => number)[] = []; // per source axis: output position -> source index
  const srcAxisOfOut: (number | null)[] = [];
  let axis = 0;
  const fixed: (number | null)[] = [];
  for (const i of full) {
    if (i === null) { outShape.push(1); srcAxisOfOut.push(null); continue; }
    const n = x.shape[axis];
    if (typeof i === 'number') {
      if (!isInt(i) || i < -n || i >= n) return INVALID;
      fixed[axis] = i < 0 ? i + n : i;
    } else if (typeof i === 'object' && i !== null && !Array.isArray(i)) {
      const { start, stop, step } = i as { start: unknown; stop: unknown; step: unknown };
      if (![start, stop, step].every((b) => b === null || isInt(b)) || step === 0) return INVALID;
      const st = (step as number | null) ?? 1;
      const clampIdx = (v: number | null, dflt: number, lo: number, hi: number) => (v === null ? dflt : Math.min(Math.max(v < 0 ? v + n : v, lo), hi));
      const s0 = st > 0 ? clampIdx(start as number | null, 0, 0, n) : clampIdx(start as number | null, n - 1, -1, n - 1);
      const s1 = st > 0 ? clampIdx(stop as number | null, n, 0, n) : clampIdx(stop as number | null, -1, -1, n - 1);
      const len = Math.max(0, Math.ceil((s1 - s0) / st));
      fixed[axis] = null;
      picks[axis] = (k) => s0 + k * st;
      outShape.push(len);
      srcAxisOfOut.push(axis);
    } else return INVALID;
    axis++;
  }
  const data = Array.from({ length: size(outShape) }, (_, i) => {
    const idx = unravel(i, outShape);
    const src = x.shape.map((_, d) => fixed[d] ?? 0);
    srcAxisOfOut.forEach((a, o) => { if (a !== null) src[a] = picks[a](idx[o]); });
    return at(x, src);
  });
  return { shape: outShape, data };
}
function matmulRef(a: Ref, b: Ref): Out {
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0]) return INVALID;
  const [m, k] = a.shape, n = b.shape[1];
  return { shape: [m, n], data: Array.from({ length: m * n }, (_, i) => { let s = 0; for (let p = 0; p < k; p++) s += a.data[Math.floor(i / n) * k + p] * b.data[p * n + (i % n)]; return s; }) };
}
function softmaxRef(x: Ref, axis: unknown, log: boolean): Out {
  const a = normAxisRef(axis === undefined ? 1 : axis, x.shape.length);
  if (a === null) return INVALID;
  const mx = reduceRef(x, a, true, nanMax) as Ref;
  const e = mapRef((v, m) => Math.exp(v - m), x, mx) as Ref;
  const s = reduceRef(e, a, true, sumOf) as Ref;
  return log ? mapRef((v, m, t) => v - m - Math.log(t), x, mx, s) : mapRef((v, t) => v / t, e, s);
}

// ---- the op table: argument generators and references ------------------------------------

type Arb = fc.Arbitrary<unknown[]>;
/** `runs` scales the number of cases, for ops whose generators are mostly invalid geometries. */
interface Spec { args: Arb; ref?: (args: unknown[]) => Out; gpu?: boolean; runs?: number }

const dim = fc.integer({ min: 0, max: 3 });
const shapeArb = fc.array(dim, { minLength: 0, maxLength: 3 });
// multiples of 1/4 (exact in float32) with a NaN now and then
const value = fc.oneof({ weight: 20, arbitrary: fc.integer({ min: -12, max: 12 }).map((k) => k / 4) }, { weight: 1, arbitrary: fc.constant(NaN) });
const refOf = (shape: number[]) => fc.array(value, { minLength: size(shape), maxLength: size(shape) }).map((data): Ref => ({ shape, data }));
const arrayArb = shapeArb.chain(refOf);
const nonEmpty = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }).chain(refOf);
const matrix = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).chain(([m, n]) => refOf([m, n]));
const intArr = (shape: number[], lo: number, hi: number) => fc.array(fc.integer({ min: lo, max: hi }), { minLength: size(shape), maxLength: size(shape) }).map((data): Ref => ({ shape, data }));
// an axis: usually in range, sometimes out of it, fractional, NaN or not a number
const axisArb = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: -4, max: 3 }) }, { weight: 1, arbitrary: fc.constantFrom(1.5, NaN, 7, '1', null) });
const maybeAxis = fc.option(fc.oneof(axisArb, fc.array(fc.integer({ min: -3, max: 3 }), { maxLength: 3 })), { nil: undefined, freq: 3 });
const keepdimsArb = fc.option(fc.oneof({ weight: 6, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constantFrom(1, 'yes') }), { nil: undefined });
const shapeArg = fc.oneof({ weight: 6, arbitrary: shapeArb }, { weight: 1, arbitrary: fc.constantFrom([-1, 3], [2.5, 3], [NaN], [[2, 3]], 'abc') });
const bound = fc.oneof({ weight: 6, arbitrary: fc.option(fc.integer({ min: -4, max: 4 }), { nil: null }) }, { weight: 1, arbitrary: fc.constantFrom(1.5, NaN) });
const indexArb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -4, max: 3 }) },
  { weight: 4, arbitrary: fc.tuple(bound, bound, fc.oneof({ weight: 6, arbitrary: fc.option(fc.integer({ min: -2, max: 2 }), { nil: null }) }, { weight: 1, arbitrary: fc.constant(1.5) })).map(([a, b, c]) => slice(a, b, c)) },
  { weight: 1, arbitrary: fc.constantFrom(null, '...', 1.5, [0, 1]) },
);

/** A numeric parameter, now and then NaN, infinite, zero or not a number at all. */
const oddParam = (ok: fc.Arbitrary<number>) => fc.oneof({ weight: 6, arbitrary: ok }, { weight: 1, arbitrary: fc.constantFrom<unknown>(NaN, Infinity, 0, '1') });

const unary = (fn: (v: number) => number): Spec => ({ args: fc.tuple(arrayArb), ref: ([x]) => mapRef(fn, x as Ref), gpu: true });
const binary = (fn: (a: number, b: number) => number): Spec => ({
  args: fc.tuple(arrayArb, fc.oneof(arrayArb, value.filter((v) => !Number.isNaN(v)))),
  ref: ([x, y]) => (typeof y === 'number' ? mapRef((a) => fn(a, y), x as Ref) : mapRef(fn, x as Ref, y as Ref)),
  gpu: true,
});
const softplus = (v: number, beta = 1) => (Math.max(beta * v, 0) + Math.log1p(Math.exp(-Math.abs(beta * v)))) / beta;

const SPECS: Record<string, Spec> = {
  add: binary((a, b) => a + b), sub: binary((a, b) => a - b), mul: binary((a, b) => a * b), div: binary((a, b) => a / b),
  pow: binary((a, b) => a ** b),
  maximum: binary((a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b))),
  minimum: binary((a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b))),
  neg: unary((v) => -v), exp: unary(Math.exp), log: unary(Math.log), sqrt: unary(Math.sqrt), abs: unary(Math.abs),
  tanh: unary(Math.tanh), sigmoid: unary((v) => 1 / (1 + Math.exp(-v))), relu: unary((v) => (v <= 0 ? 0 : v)),
  leakyRelu: {
    args: fc.tuple(arrayArb, fc.option(oddParam(fc.double({ min: 0, max: 1, noNaN: true })), { nil: undefined })),
    ref: ([x, a]) => (a !== undefined && !Number.isFinite(a) ? INVALID : mapRef((v) => (v > 0 ? v : v * ((a as number | undefined) ?? 0.2)), x as Ref)),
    gpu: true,
  },
  softplus: {
    args: fc.tuple(arrayArb, fc.option(oddParam(fc.constantFrom(0.5, 1, 2)), { nil: undefined })),
    ref: ([x, b]) => (b !== undefined && (!Number.isFinite(b) || b === 0) ? INVALID : mapRef((v) => softplus(v, (b as number | undefined) ?? 1), x as Ref)),
    gpu: true,
  },
  elu: {
    args: fc.tuple(arrayArb, fc.option(oddParam(fc.constantFrom(0.5, 1, 2)), { nil: undefined })),
    ref: ([x, a]) => (a !== undefined && !Number.isFinite(a) ? INVALID : mapRef((v) => (v > 0 ? v : ((a as number | undefined) ?? 1) * (Math.exp(v) - 1)), x as Ref)),
    gpu: true,
  },
  clip: {
    args: fc.tuple(arrayArb, fc.integer({ min: -3, max: 3 }), fc.integer({ min: -3, max: 3 })),
    ref: ([x, lo, hi]) => ((lo as number) > (hi as number) ? INVALID : mapRef((v) => Math.min(Math.max(v, lo as number), hi as number), x as Ref)),
  },
  where: {
    args: fc.tuple(arrayArb, arrayArb, arrayArb).map(([c, x, y]) => [{ ...c, data: c.data.map((v) => (v > 0 ? 1 : 0)) }, x, y]),
    ref: ([c, x, y]) => mapRef((p, a, b) => (p !== 0 ? a : b), c as Ref, x as Ref, y as Ref),
  },
  sum: { args: fc.tuple(arrayArb, maybeAxis, keepdimsArb), ref: ([x, a, k]) => reduceRef(x as Ref, a, k, sumOf), gpu: true },
  mean: { args: fc.tuple(nonEmpty, maybeAxis, keepdimsArb), ref: ([x, a, k]) => reduceRef(x as Ref, a, k, (vs) => sumOf(vs) / vs.length) },
  max: { args: fc.tuple(arrayArb, maybeAxis, keepdimsArb), ref: ([x, a, k]) => reduceRef(x as Ref, a, k, nanMax, true), gpu: true },
  min: { args: fc.tuple(arrayArb, maybeAxis, keepdimsArb), ref: ([x, a, k]) => reduceRef(x as Ref, a, k, nanMin, true), gpu: true },
  argmax: {
    args: fc.tuple(arrayArb, fc.option(axisArb, { nil: undefined })),
    ref: ([x, a]) => { const r = x as Ref; if (size(r.shape) === 0) return INVALID; const flat = a === undefined ? { shape: [size(r.shape)], data: r.data } : r; const out = reduceRef(flat, a === undefined ? 0 : a, false, (vs) => argRef(vs, (p, q) => p > q)); return out; },
    gpu: true,
  },
  argmin: {
    args: fc.tuple(arrayArb, fc.option(axisArb, { nil: undefined })),
    ref: ([x, a]) => { const r = x as Ref; if (size(r.shape) === 0) return INVALID; const flat = a === undefined ? { shape: [size(r.shape)], data: r.data } : r; return reduceRef(flat, a === undefined ? 0 : a, false, (vs) => argRef(vs, (p, q) => p < q)); },
  },
  reshape: {
    args: fc.tuple(arrayArb, fc.oneof(shapeArg, fc.constant([-1]), fc.constant([-1, -1]))),
    ref: ([x, s]) => {
      const r = x as Ref;
      if (!Array.isArray(s) || !s.every((n, i) => isInt(n) && (n >= 0 || (n === -1 && s.indexOf(-1) === i && s.lastIndexOf(-1) === i)))) return INVALID;
      const free = s.indexOf(-1), rest = size(s.filter((n) => n !== -1)), n = size(r.shape);
      if (free >= 0 && (rest === 0 || n % rest !== 0)) return INVALID;
      const target = s.map((v) => (v === -1 ? n / rest : v));
      return size(target) === n ? { shape: target, data: r.data } : INVALID;
    },
  },
  transpose: {
    args: fc.tuple(arrayArb, fc.option(fc.array(fc.integer({ min: -3, max: 3 }), { maxLength: 3 }), { nil: undefined })),
    ref: ([x, axes]) => {
      const r = x as Ref, nd = r.shape.length;
      const order = ((axes as number[] | undefined) ?? r.shape.map((_, i) => nd - 1 - i)).map((a) => normAxisRef(a, nd));
      if (order.length !== nd || order.some((a) => a === null) || new Set(order).size !== nd) return INVALID;
      return transposeRef(r, order as number[]);
    },
  },
  swapaxes: {
    args: fc.tuple(arrayArb, axisArb, axisArb),
    ref: ([x, a, b]) => {
      const r = x as Ref, i = normAxisRef(a, r.shape.length), j = normAxisRef(b, r.shape.length);
      if (i === null || j === null) return INVALID;
      const order = r.shape.map((_, d) => d);
      [order[i], order[j]] = [order[j], order[i]];
      return transposeRef(r, order);
    },
  },
  broadcastTo: {
    args: fc.tuple(arrayArb, shapeArg),
    ref: ([x, s]) => {
      const r = x as Ref;
      if (!Array.isArray(s) || !s.every((n) => isInt(n) && n >= 0) || s.length < r.shape.length) return INVALID;
      const b = broadcast([r.shape, s]);
      if (b === null || b.some((n, d) => n !== s[d])) return INVALID;
      return mapRef((v) => v, r, { shape: s, data: new Array(size(s)).fill(0) });
    },
  },
  sumTo: {
    args: fc.tuple(arrayArb, shapeArb),
    ref: ([x, s]) => {
      const r = x as Ref, t = s as number[], lead = r.shape.length - t.length;
      if (lead < 0 || t.some((n, d) => n !== 1 && n !== r.shape[d + lead])) return INVALID;
      const axes = r.shape.flatMap((n, d) => (d < lead || (t[d - lead] === 1 && n !== 1) ? [d] : []));
      const out = reduceRef(r, axes, true, sumOf) as Ref;
      return { shape: t, data: out.data };
    },
  },
  expandDims: {
    args: fc.tuple(arrayArb, axisArb),
    ref: ([x, a]) => {
      const r = x as Ref, nd = r.shape.length;
      if (!isInt(a) || a < -(nd + 1) || a > nd) return INVALID;
      const shape = r.shape.slice();
      shape.splice(a < 0 ? a + nd + 1 : a, 0, 1);
      return { shape, data: r.data };
    },
  },
  squeeze: {
    args: fc.tuple(arrayArb, maybeAxis),
    ref: ([x, a]) => {
      const r = x as Ref;
      const axes = a === undefined ? r.shape.flatMap((n, d) => (n === 1 ? [d] : [])) : axesRef(a, r.shape.length);
      if (axes === null || axes.some((d) => r.shape[d] !== 1)) return INVALID;
      return { shape: r.shape.filter((_, d) => !axes.includes(d)), data: r.data };
    },
  },
  flatten: { args: fc.tuple(arrayArb), ref: ([x]) => ({ shape: [(x as Ref).data.length], data: (x as Ref).data }) },
  getItem: {
    args: fc.tuple(arrayArb, fc.oneof(indexArb, fc.array(indexArb, { maxLength: 4 }))),
    ref: ([x, idx]) => getItemRef(x as Ref, Array.isArray(idx) ? idx : [idx]),
  },
  concat: {
    args: fc.tuple(fc.array(nonEmpty, { minLength: 1, maxLength: 3 }), fc.option(axisArb, { nil: undefined })),
    ref: ([xs, a]) => {
      const rs = xs as Ref[], nd = rs[0].shape.length, ax = normAxisRef(a === undefined ? 1 : a, nd);
      if (ax === null || rs.some((r) => r.shape.length !== nd || r.shape.some((n, d) => d !== ax && n !== rs[0].shape[d]))) return INVALID;
      const shape = rs[0].shape.slice();
      shape[ax] = rs.reduce((s, r) => s + r.shape[ax], 0);
      const data = Array.from({ length: size(shape) }, (_, i) => {
        const idx = unravel(i, shape);
        let k = idx[ax], j = 0;
        while (k >= rs[j].shape[ax]) k -= rs[j++].shape[ax];
        idx[ax] = k;
        return at(rs[j], idx);
      });
      return { shape, data };
    },
  },
  splitAxis: {
    args: fc.tuple(nonEmpty, fc.oneof(fc.integer({ min: 0, max: 4 }), fc.array(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: -3, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(1.5, NaN) }), { maxLength: 3 })), axisArb),
    ref: ([x, spec, a]) => {
      const r = x as Ref, ax = normAxisRef(a, r.shape.length);
      if (ax === null) return INVALID;
      const n = r.shape[ax];
      let bounds: number[];
      if (typeof spec === 'number') {
        if (spec <= 0 || n % spec !== 0) return INVALID;
        bounds = Array.from({ length: spec - 1 }, (_, i) => ((i + 1) * n) / spec);
      } else {
        const list = spec as number[];
        if (!list.every(isInt)) return INVALID;
        bounds = list.map((i) => Math.min(Math.max(i < 0 ? i + n : i, 0), n));
        if (bounds.some((b, i) => i > 0 && b < bounds[i - 1])) return INVALID;
      }
      const edges = [0, ...bounds, n];
      return edges.slice(0, -1).map((s, i) => getItemRef(r, r.shape.map((_, d) => (d === ax ? slice(s, edges[i + 1]) : slice()))) as Ref);
    },
  },
  softmax: { args: fc.tuple(nonEmpty, fc.option(axisArb, { nil: undefined })), ref: ([x, a]) => softmaxRef(x as Ref, a, false) },
  logSoftmax: { args: fc.tuple(nonEmpty, fc.option(axisArb, { nil: undefined })), ref: ([x, a]) => softmaxRef(x as Ref, a, true) },
  matmul: { args: fc.tuple(matrix, matrix), ref: ([a, b]) => matmulRef(a as Ref, b as Ref), gpu: true },
  linear: {
    args: fc.tuple(matrix, matrix),
    ref: ([x, W]) => { const w = W as Ref; return w.shape[1] !== (x as Ref).shape[1] ? INVALID : matmulRef(x as Ref, transposeRef(w, [1, 0])); },
  },
  meanSquaredError: {
    args: fc.tuple(arrayArb, arrayArb),
    ref: ([a, b]) => { const x = a as Ref, y = b as Ref; if (x.shape.join() !== y.shape.join()) return INVALID; return { shape: [], data: [sumOf(x.data.map((v, i) => (v - y.data[i]) ** 2)) / x.data.length] }; },
  },
  softmaxCrossEntropy: {
    args: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).chain(([n, c]) => fc.tuple(
      refOf([n, c]), intArr([n], -1, c - 1),
      fc.option(fc.oneof({ weight: 4, arbitrary: fc.record({ reduce: fc.constantFrom('mean', 'no') }, { requiredKeys: [] }) }, { weight: 1, arbitrary: fc.constantFrom({ reduce: 'sum' }, { reduction: 'no' }, { normalize: 1 }) }), { nil: undefined }),
    )),
    ref: ([x, t, o]) => {
      const opts = (o ?? {}) as Record<string, unknown>;
      if (Object.keys(opts).some((k) => k !== 'reduce') || (opts.reduce !== undefined && opts.reduce !== 'mean' && opts.reduce !== 'no')) return INVALID;
      const ls = softmaxRef(x as Ref, 1, true) as Ref, c = (x as Ref).shape[1], labels = (t as Ref).data;
      const per = labels.map((l, i) => (l === -1 ? 0 : -ls.data[i * c + l]));
      if (opts.reduce === 'no') return { shape: [labels.length], data: per };
      return { shape: [], data: [sumOf(per) / Math.max(1, labels.filter((l) => l !== -1).length)] };
    },
  },
  selectItem: {
    args: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).chain(([n, c]) => fc.tuple(refOf([n, c]), intArr([n], 0, c - 1))),
    ref: ([x, t]) => ({ shape: [(t as Ref).data.length], data: (t as Ref).data.map((l, i) => (x as Ref).data[i * (x as Ref).shape[1] + l]) }),
  },
  accuracy: {
    args: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).chain(([n, c]) => fc.tuple(refOf([n, c]), intArr([n], 0, c - 1))),
    ref: ([y, t]) => { const r = y as Ref, c = r.shape[1], ls = (t as Ref).data; const hits = ls.filter((l, i) => argRef(r.data.slice(i * c, (i + 1) * c), (p, q) => p > q) === l).length; return { shape: [], data: [hits / ls.length] }; },
  },
  // in test mode dropout is the identity (the random mask is covered in noise.test.ts)
  dropout: { args: fc.tuple(arrayArb, fc.oneof(fc.double({ min: 0, max: 0.99, noNaN: true }), fc.constantFrom(1, -0.5, NaN))), ref: ([x, r]) => ((r as number) >= 0 && (r as number) < 1 ? (x as Ref) : INVALID) },
};

// ---- the issue-10 ops: pooling, convolution, normalization, LSTM, embedding, losses ---------

// no NaN here: which element a NaN wins in max pooling is not the point of these ops
const clean = fc.integer({ min: -12, max: 12 }).map((k) => k / 4);
const cleanOf = (shape: number[]) => fc.array(clean, { minLength: size(shape), maxLength: size(shape) }).map((data): Ref => ({ shape, data }));
const small = (lo: number, hi: number) => fc.integer({ min: lo, max: hi });
/** An (h, w) option: a number or a pair, now and then zero, negative, fractional, NaN, short or a string. */
const pairArb = (lo: number, hi: number) => fc.oneof(
  { weight: 8, arbitrary: fc.oneof(small(lo, hi), fc.tuple(small(lo, hi), small(lo, hi))) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(0, -1, 1.5, NaN, [1], [1, 2, 3], '2') },
);
function pairRef(v: unknown, min: number): [number, number] | null {
  const p = typeof v === 'number' ? [v, v] : v;
  return Array.isArray(p) && p.length === 2 && p.every((q) => isInt(q) && q >= min) ? [p[0], p[1]] : null;
}
/** A 4-D (N, C, H, W) image, or now and then an array of another rank. */
const imageArb = (c: fc.Arbitrary<number> = small(1, 3)) => fc.oneof(
  { weight: 8, arbitrary: fc.tuple(small(1, 2), c, small(1, 4), small(1, 4)).chain(cleanOf) },
  { weight: 1, arbitrary: arrayArb },
);
/** An options object: the known keys (each maybe left out), or now and then an unknown key or not an object at all. */
const optsArb = (known: Record<string, fc.Arbitrary<unknown>>) => fc.option(fc.oneof(
  { weight: 8, arbitrary: fc.record(known, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>({ strides: 1 }, 'x', 3) },
), { nil: undefined });
const optsRef = (o: unknown, known: readonly string[]): Record<string, unknown> | null =>
  o === undefined ? {} : typeof o === 'object' && o !== null && !Array.isArray(o) && Object.keys(o).every((k) => known.includes(k)) ? o as Record<string, unknown> : null;
const boolOpt = fc.oneof({ weight: 6, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constantFrom<unknown>(1, 'yes') });
const outLenRef = (size: number, k: number, s: number, p: number, d: number, coverAll: boolean) =>
  Math.floor((size + 2 * p - ((k - 1) * d + 1) + (coverAll ? s - 1 : 0)) / s) + 1;
const sig = (v: number) => 1 / (1 + Math.exp(-v));
/** Pooling geometry from (x, ksize, opts): null where the op must refuse it. */
function poolRef(x: Ref, ksize: unknown, o: unknown, known: readonly string[]) {
  const opts = optsRef(o, known);
  if (x.shape.length !== 4 || opts === null) return null;
  const k = pairRef(ksize, 1);
  const stride = k === null ? null : pairRef(opts.stride ?? k, 1), pad = pairRef(opts.pad ?? 0, 0);
  if (k === null || stride === null || pad === null || (opts.coverAll !== undefined && typeof opts.coverAll !== 'boolean')) return null;
  return { ksize: k, stride, pad, coverAll: (opts.coverAll as boolean | undefined) ?? true, outsize: opts.outsize };
}
/** Batch normalization's layout: the reduced axes and gamma's shape, null where they do not fit. */
function bnAxes(x: Ref, gammaShape: number[], axis: unknown): number[] | null {
  const nd = x.shape.length;
  const axes = axis === undefined ? (nd === 0 ? null : [0, ...Array.from({ length: Math.max(nd - 1 - gammaShape.length, 0) }, (_, i) => i + 1 + gammaShape.length)]) : axesRef(axis, nd);
  if (axes === null) return null;
  const want = x.shape.filter((_, d) => !axes.includes(d));
  return want.join() === gammaShape.join() && want.length === gammaShape.length ? axes : null;
}
function bnRef(x: Ref, g: Ref, b: Ref, stats: [Ref, Ref] | null, o: unknown): Out {
  const opts = optsRef(o, stats === null ? ['eps', 'decay', 'axis'] : ['eps', 'axis']);
  if (opts === null) return INVALID;
  const axes = bnAxes(x, g.shape, opts.axis);
  if (axes === null || [b, ...(stats ?? [])].some((p) => p.shape.join() !== g.shape.join() || p.shape.length !== g.shape.length)) return INVALID;
  const eps = opts.eps ?? 2e-5, decay = opts.decay ?? 0.9;
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps) || typeof decay !== 'number' || !(decay >= 0 && decay <= 1)) return INVALID;
  const count = size(axes.map((a) => x.shape[a]));
  if (stats === null && count === 0) return INVALID; // the mean of no values
  const ch = Array.from({ length: size(x.shape) }, (_, i) => unravel(i, x.shape).filter((_, d) => !axes.includes(d)).reduce((p, j, d) => p + j * strides(g.shape)[d], 0));
  let mu: number[], va: number[];
  if (stats !== null) [mu, va] = [stats[0].data, stats[1].data];
  else {
    mu = g.data.map((_, c) => sumOf(x.data.filter((_, i) => ch[i] === c)) / count);
    va = g.data.map((_, c) => sumOf(x.data.filter((_, i) => ch[i] === c).map((v) => (v - mu[c]) ** 2)) / count);
  }
  return { shape: x.shape, data: x.data.map((v, i) => g.data[ch[i]] * (v - mu[ch[i]]) / Math.sqrt(va[ch[i]] + eps) + b.data[ch[i]]) };
}
/** x, gamma, beta (and mean, var) for batch normalization: gamma fits x's layout most of the time. */
const bnArgs = (fixed: boolean) => fc.array(small(0, 3), { maxLength: 3 }).chain((xs) => fc.tuple(
  cleanOf(xs),
  fc.option(fc.oneof(axisArb, fc.array(fc.integer({ min: -3, max: 2 }), { maxLength: 2 })), { nil: undefined, freq: 3 }),
  small(0, 2), fc.integer({ min: 0, max: 9 }),
).chain(([x, axis, gnd, odd]) => {
  const axes = axis === undefined ? null : axesRef(axis, xs.length);
  const gs = odd === 0 ? [2] : axes !== null ? xs.filter((_, d) => !axes.includes(d)) : xs.slice(1, 1 + gnd);
  const opts = fc.option(fc.oneof(
    { weight: 8, arbitrary: fc.record({ eps: oddParam(fc.constantFrom(1e-5, 0.5)), ...(fixed ? {} : { decay: oddParam(fc.constantFrom(0.5, 0.9)) }), axis: fc.constant(axis) }, { requiredKeys: ['axis'] }) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>({ runningMeans: 1 }, 'x') },
  ), { nil: undefined }).map((o) => (o !== null && typeof o === 'object' && (o as { axis?: unknown }).axis === undefined ? (({ axis: _, ...r }) => r)(o as Record<string, unknown>) : o));
  const stats = fixed ? [cleanOf(gs), cleanOf(gs).map((r) => ({ ...r, data: r.data.map(Math.abs) }))] : [];
  return fc.tuple(fc.constant(x), cleanOf(gs), cleanOf(gs), ...stats, opts);
}));
/** Convolution: x (N, G cg, H, W) and W (G og, cg, kh, kw) for deconv's (G cg, og, kh, kw)), now and then a mismatch. */
const convArgs = (deconv: boolean) => fc.tuple(small(1, 2), small(1, 2), small(1, 2), small(1, 3), small(1, 3), fc.integer({ min: 0, max: 9 })).chain(([g, cg, og, kh, kw, odd]) => {
  const C = g * cg, O = g * og;
  const wShape = deconv ? [C + (odd === 1 ? 1 : 0), og, kh, kw] : [O, cg + (odd === 1 ? 1 : 0), kh, kw];
  const known = { stride: pairArb(1, 2), pad: pairArb(0, 1), dilate: pairArb(1, 2), groups: fc.oneof({ weight: 6, arbitrary: fc.constant(g) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(2, 3, 0, 1.5) }), ...(deconv ? { outsize: fc.option(fc.tuple(small(1, 7), small(1, 7)), { nil: undefined }) } : {}) };
  return fc.tuple(
    fc.oneof({ weight: 8, arbitrary: fc.tuple(small(1, 2), fc.constant(C), small(1, 4), small(1, 4)).chain(cleanOf) }, { weight: 1, arbitrary: arrayArb }),
    cleanOf(wShape),
    fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: cleanOf([O]) }, { weight: 1, arbitrary: cleanOf([O + 1]) }),
    fc.option(fc.oneof({ weight: 8, arbitrary: fc.record(known, { requiredKeys: ['groups'] }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>({ strides: 1 }, 'x') }), { nil: undefined }),
  );
});
function convRef([x, W, b, o]: unknown[], deconv: boolean): Out {
  const r = x as Ref, w = W as Ref, bias = b as Ref | undefined;
  const opts = optsRef(o, deconv ? ['stride', 'pad', 'dilate', 'groups', 'outsize'] : ['stride', 'pad', 'dilate', 'groups']);
  if (opts === null || r.shape.length !== 4 || w.shape.length !== 4) return INVALID;
  const groups = opts.groups ?? 1;
  const [N, C, h, wd] = r.shape;
  const O = deconv ? w.shape[1] * (groups as number) : w.shape[0];
  if (!isInt(groups) || groups < 1 || C % groups !== 0 || O % groups !== 0) return INVALID;
  if (deconv ? w.shape[0] !== C : w.shape[1] !== C / groups) return INVALID;
  if (bias !== undefined && bias.shape.join() !== String(O)) return INVALID;
  const stride = pairRef(opts.stride ?? 1, 1), pad = pairRef(opts.pad ?? 0, 0), dilate = pairRef(opts.dilate ?? 1, 1);
  if (stride === null || pad === null || dilate === null || N === 0) return INVALID;
  const geo = { stride, pad, dilate, groups };
  const [kh, kw] = w.shape.slice(2);
  if (!deconv) {
    if (outLenRef(h, kh, stride[0], pad[0], dilate[0], false) < 1 || outLenRef(wd, kw, stride[1], pad[1], dilate[1], false) < 1) return INVALID;
    return refConv(r, w, bias ?? null, geo);
  }
  const outsize = opts.outsize === undefined ? [stride[0] * (h - 1) + (kh - 1) * dilate[0] + 1 - 2 * pad[0], stride[1] * (wd - 1) + (kw - 1) * dilate[1] + 1 - 2 * pad[1]] : pairRef(opts.outsize, 1);
  if (outsize === null || outsize[0] < 1 || outsize[1] < 1) return INVALID;
  // a deconvolution's output is one that the convolution with this geometry maps back onto x
  if (outLenRef(outsize[0], kh, stride[0], pad[0], dilate[0], false) !== h || outLenRef(outsize[1], kw, stride[1], pad[1], dilate[1], false) !== wd) return INVALID;
  return refDeconv(r, w, bias ?? null, { ...geo, outsize: outsize as [number, number] });
}

const NN_SPECS: Record<string, Spec> = {
  hardSigmoid: unary(hardSigmoidRef),
  gelu: unary(geluRef),
  swish: {
    args: fc.tuple(arrayArb, fc.oneof(
      { weight: 3, arbitrary: oddParam(fc.constantFrom(0.5, 1, 2)) },
      { weight: 3, arbitrary: fc.array(small(0, 3), { maxLength: 2 }).chain(cleanOf) },
    )),
    ref: ([x, beta]) => {
      const r = x as Ref;
      if (typeof beta !== 'object') return typeof beta === 'number' && Number.isFinite(beta) ? mapRef((v) => v * sig(beta * v), r) : INVALID;
      const b = beta as Ref, nd = b.shape.length;
      if (r.shape.length < 1 + nd || r.shape.slice(1, 1 + nd).join() !== b.shape.join()) return INVALID;
      return { shape: r.shape, data: r.data.map((v, i) => v * sig(at(b, unravel(i, r.shape).slice(1, 1 + nd)) * v)) };
    },
    gpu: true,
  },
  logSumExp: {
    args: fc.tuple(arrayArb, maybeAxis),
    ref: ([x, a]) => { const r = x as Ref, axes = axesRef(a, r.shape.length); return axes === null || size(r.shape) === 0 ? INVALID : logSumExpRef(r, axes); },
    gpu: true,
  },
  sigmoidCrossEntropy: {
    args: shapeArb.chain((s) => fc.tuple(
      refOf(s), fc.oneof({ weight: 6, arbitrary: intArr(s, -1, 1) }, { weight: 1, arbitrary: shapeArb.chain((t) => intArr(t, -1, 1)) }),
      optsArb({ normalize: boolOpt, reduce: fc.constantFrom<unknown>('mean', 'no', 'mean', 'no', 'sum') }),
    )),
    ref: ([x, t, o]) => {
      const r = x as Ref, ts = (t as Ref).data, opts = optsRef(o, ['normalize', 'reduce']);
      if (opts === null || r.shape.join() !== (t as Ref).shape.join() || r.shape.length !== (t as Ref).shape.length) return INVALID;
      if ((opts.normalize !== undefined && typeof opts.normalize !== 'boolean') || (opts.reduce !== undefined && opts.reduce !== 'mean' && opts.reduce !== 'no')) return INVALID;
      const loss = r.data.map((v, i) => (ts[i] === -1 ? 0 : -(ts[i] * Math.log(sig(v)) + (1 - ts[i]) * Math.log(1 - sig(v)))));
      if (opts.reduce === 'no') return { shape: r.shape, data: loss };
      const by = opts.normalize === false ? (r.shape[0] ?? 1) : ts.filter((l) => l !== -1).length;
      return { shape: [], data: [sumOf(loss) / Math.max(by, 1)] };
    },
  },
  averagePooling2d: {
    args: fc.tuple(imageArb(), pairArb(1, 3), optsArb({ stride: pairArb(1, 3), pad: pairArb(0, 2) })),
    ref: ([x, k, o]) => {
      const p = poolRef(x as Ref, k, o, ['stride', 'pad']);
      if (p === null) return INVALID;
      const [n, c, h, w] = (x as Ref).shape;
      if (n * c === 0 || outLenRef(h, p.ksize[0], p.stride[0], p.pad[0], 1, false) < 1 || outLenRef(w, p.ksize[1], p.stride[1], p.pad[1], 1, false) < 1) return INVALID;
      return refAvgPool(x as Ref, p);
    },
    gpu: true,
  },
  maxPooling2d: {
    args: fc.tuple(imageArb(), pairArb(1, 3), optsArb({ stride: pairArb(1, 3), pad: pairArb(0, 2), coverAll: boolOpt })),
    ref: ([x, k, o]) => {
      const p = poolRef(x as Ref, k, o, ['stride', 'pad', 'coverAll']);
      if (p === null) return INVALID;
      const [, , h, w] = (x as Ref).shape;
      if (outLenRef(h, p.ksize[0], p.stride[0], p.pad[0], 1, p.coverAll) < 1 || outLenRef(w, p.ksize[1], p.stride[1], p.pad[1], 1, p.coverAll) < 1) return INVALID;
      const y = refMaxPool(x as Ref, { ...p, outsize: undefined });
      // a window of padding alone has no max
      return y.data.includes(-Infinity) ? INVALID : y;
    },
    gpu: true,
    runs: 2,
  },
  unpooling2d: {
    args: fc.tuple(imageArb(), pairArb(1, 3), optsArb({ stride: pairArb(1, 3), pad: pairArb(0, 1), coverAll: boolOpt, outsize: fc.oneof(fc.tuple(small(1, 8), small(1, 8)), fc.constantFrom<unknown>([0, 2], 3)) })),
    ref: ([x, k, o]) => {
      const p = poolRef(x as Ref, k, o, ['stride', 'pad', 'coverAll', 'outsize']);
      if (p === null) return INVALID;
      const [n, c, h, w] = (x as Ref).shape;
      const dflt = (len: number, i: 0 | 1) => p.stride[i] * (len - 1) + p.ksize[i] - 2 * p.pad[i] - (p.coverAll ? p.stride[i] - 1 : 0);
      const outsize = p.outsize === undefined ? [dflt(h, 0), dflt(w, 1)] : pairRef(p.outsize, 1);
      if (outsize === null || outsize[0] < 1 || outsize[1] < 1 || n * c === 0) return INVALID;
      // the output must be one that pooling with this geometry maps back onto x
      if (outLenRef(outsize[0], p.ksize[0], p.stride[0], p.pad[0], 1, p.coverAll) !== h || outLenRef(outsize[1], p.ksize[1], p.stride[1], p.pad[1], 1, p.coverAll) !== w) return INVALID;
      return refUnpool(x as Ref, { ...p, outsize: outsize as [number, number] });
    },
    gpu: true,
    runs: 2,
  },
  convolution2d: { args: convArgs(false), ref: (a) => convRef(a, false), gpu: true, runs: 3 },
  deconvolution2d: { args: convArgs(true), ref: (a) => convRef(a, true), gpu: true, runs: 3 },
  localResponseNormalization: {
    args: fc.tuple(
      fc.oneof({ weight: 6, arbitrary: fc.array(small(1, 4), { minLength: 2, maxLength: 4 }).chain(cleanOf) }, { weight: 1, arbitrary: arrayArb }),
      optsArb({ n: fc.oneof({ weight: 6, arbitrary: small(1, 6) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(0, 2.5, NaN) }), k: oddParam(fc.constantFrom(1, 2)), alpha: oddParam(fc.constantFrom(1e-4, 0.5)), beta: oddParam(fc.constantFrom(0.75, 1)) }),
    ),
    ref: ([x, o]) => {
      const r = x as Ref, opts = optsRef(o, ['n', 'k', 'alpha', 'beta']);
      if (opts === null || r.shape.length < 2 || size(r.shape) === 0) return INVALID;
      const { n = 5, k = 2, alpha = 1e-4, beta = 0.75 } = opts as Record<string, number>;
      if (!isInt(n) || n < 1 || ![k, alpha, beta].every((v) => typeof v === 'number' && Number.isFinite(v))) return INVALID;
      return { shape: r.shape, data: refLrn(r, { n, k, alpha, beta }) };
    },
    gpu: true,
  },
  // W without NaN: embedId is a one-hot matmul, so a NaN or Infinity in any row of W poisons every
  // output (0 * NaN); left for the op's owner (reported), the gather itself is checked here
  embedId: {
    args: fc.tuple(small(1, 4), small(1, 3), fc.array(small(0, 3), { maxLength: 2 })).chain(([v, d, s]) => fc.tuple(
      intArr(s, -1, v).map((r) => ({ ...r, int: true })), fc.oneof({ weight: 6, arbitrary: cleanOf([v, d]) }, { weight: 1, arbitrary: shapeArb.chain(cleanOf) }),
      optsArb({ ignoreLabel: fc.oneof({ weight: 6, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(0, 1.5, NaN, '-1') }) }),
    )),
    ref: ([x, W, o]) => {
      const ids = x as Ref, w = W as Ref, opts = optsRef(o, ['ignoreLabel']);
      if (opts === null || w.shape.length !== 2 || (opts.ignoreLabel !== undefined && !isInt(opts.ignoreLabel))) return INVALID;
      const ignore = opts.ignoreLabel as number | undefined;
      if (ids.data.some((id) => id !== ignore && (id < 0 || id >= w.shape[0]))) return INVALID;
      return { shape: [...ids.shape, w.shape[1]], data: refEmbed(ids.data, w, ignore) };
    },
  },
  lstm: {
    args: fc.tuple(small(1, 2), small(1, 2), fc.constantFrom<number[]>([], [2]), small(0, 1), fc.integer({ min: 0, max: 9 })).chain(([b, u, rest, extra, odd]) => fc.tuple(
      cleanOf([b + extra, u + (odd === 0 ? 1 : 0), ...rest]),
      odd === 1 ? arrayArb : cleanOf([b, 4 * u + (odd === 2 ? 1 : 0), ...rest]),
    )),
    ref: ([c, x]) => {
      const cp = c as Ref, xr = x as Ref;
      if (xr.shape.length < 2 || xr.shape[1] % 4 !== 0 || cp.shape.length !== xr.shape.length) return INVALID;
      const want = [xr.shape[1] / 4, ...xr.shape.slice(2)];
      if (cp.shape.slice(1).join() !== want.join() || cp.shape[0] < xr.shape[0]) return INVALID;
      const out = refLstm(cp, xr);
      return [{ shape: cp.shape, data: out.c }, { shape: [xr.shape[0], ...want], data: out.h }];
    },
    gpu: true,
  },
  batchNormalization: {
    args: bnArgs(false),
    ref: ([x, g, b, o]) => bnRef(x as Ref, g as Ref, b as Ref, null, o),
    gpu: true,
    runs: 2,
  },
  fixedBatchNormalization: {
    args: bnArgs(true),
    ref: ([x, g, b, m, v, o]) => bnRef(x as Ref, g as Ref, b as Ref, [m as Ref, v as Ref], o),
  },
};
Object.assign(SPECS, NN_SPECS);

// Helpers F exports that take no arrays: checked directly, not through the generic harness.
const NOT_OPS = new Set(['slice', 'normAxes']);

/** Anything a user might pass: arrays, numbers (odd ones too), lists, strings, objects. */
const anyArg = fc.oneof(arrayArb, value, fc.constantFrom(1.5, -1, NaN, 100, 'x', null, undefined, true, {}, [1, 2], [[0, 1]]));
const genericSpec: Spec = { args: fc.array(anyArg, { maxLength: 4 }) };

// ---- running one case -----------------------------------------------------------------------

const toArg = (a: unknown, device: Device): unknown => {
  if (a !== null && typeof a === 'object' && 'shape' in a && 'data' in a) {
    const r = a as Ref;
    const isIntRef = r.data.every((v) => Number.isInteger(v)) && (a as { int?: boolean }).int === true;
    return new Variable(array(new Float32Array(r.data), r.shape).to(device), { requiresGrad: !isIntRef });
  }
  if (Array.isArray(a) && a.length > 0 && a.every((e) => e !== null && typeof e === 'object' && 'shape' in e)) return a.map((e) => toArg(e, device));
  return a;
};
/** Labels are int32: the ops that take them get them as such. */
const LABEL_ARG: Record<string, number> = { softmaxCrossEntropy: 1, selectItem: 1, accuracy: 1, sigmoidCrossEntropy: 1, embedId: 0 };

function closeTo(actual: number, expected: number): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (!Number.isFinite(expected)) return actual === expected || (Math.abs(expected) > 3e38 && !Number.isFinite(actual));
  return Math.abs(actual - expected) <= 1e-4 + 1e-4 * Math.abs(expected) || Math.abs(f32(expected) - actual) <= 1e-6 * Math.abs(expected);
}

async function check(name: string, fn: (...a: unknown[]) => unknown, spec: Spec, args: unknown[], device: Device): Promise<void> {
  const real = args.map((a, i) => {
    if (LABEL_ARG[name] === i && a !== null && typeof a === 'object' && 'data' in a) { const r = a as Ref; return array(new Int32Array(r.data), r.shape).to(device); }
    return toArg(a, device);
  });
  let result: unknown;
  try {
    result = testMode(() => fn(...real));
  } catch (e) {
    if (!(e instanceof Error) || e instanceof RangeError || e instanceof TypeError) throw new Error(`${name}: threw ${String(e)} for ${show(args)}`);
    if (!e.message.includes(name)) throw new Error(`${name}: the error does not name the op: "${e.message}" for ${show(args)}`);
    if (spec.ref !== undefined && spec.ref(args) !== INVALID) throw new Error(`${name}: refused valid arguments ${show(args)}: ${e.message}`);
    return;
  }
  const outs = (Array.isArray(result) ? result : [result]) as unknown[];
  for (const o of outs) {
    if (!(o instanceof Variable)) throw new Error(`${name}: returned ${String(o)}, not a Variable, for ${show(args)}`);
    if (!o.shape.every((n) => Number.isSafeInteger(n) && n >= 0)) throw new Error(`${name}: returned a shape (${o.shape.join(', ')}) for ${show(args)}`);
  }
  if (spec.ref === undefined) return;
  const expected = spec.ref(args);
  if (expected === INVALID) throw new Error(`${name}: returned a result for invalid arguments ${show(args)}`);
  const exp = Array.isArray(expected) ? expected : [expected];
  if (exp.length !== outs.length) throw new Error(`${name}: ${outs.length} outputs, expected ${exp.length}, for ${show(args)}`);
  for (let k = 0; k < exp.length; k++) {
    const o = outs[k] as Variable;
    if (o.shape.join() !== exp[k].shape.join()) throw new Error(`${name}: shape (${o.shape.join(', ')}), expected (${exp[k].shape.join(', ')}), for ${show(args)}`);
    const got = Array.from(await o.data.data());
    const bad = got.findIndex((v, i) => !closeTo(v, exp[k].data[i]));
    if (bad >= 0) throw new Error(`${name}: element ${bad} is ${got[bad]}, expected ${exp[k].data[bad]}, for ${show(args)}`);
  }
}

function show(args: unknown[]): string {
  return JSON.stringify(args, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v === undefined ? 'undefined' : v)).slice(0, 400);
}

const ops = () => Object.entries(F as unknown as Record<string, unknown>)
  .filter((e): e is [string, (...a: unknown[]) => unknown] => typeof e[1] === 'function' && !NOT_OPS.has(e[0]));

test('every op exported from F is in the property table, or fuzzed with arbitrary arguments', (t) => {
  const missing = ops().map(([n]) => n).filter((n) => !(n in SPECS));
  t.log(`ops with a reference: ${Object.keys(SPECS).length}; fuzzed only: ${missing.join(', ') || 'none'}`);
  t.deepEqual(missing, [], 'an op without a reference still runs in the generic fuzz below; add a reference for it here');
});

test('the helpers F exports that are not ops check their arguments too', (t) => {
  t.deepEqual(F.slice(1, 3), { start: 1, stop: 3, step: null });
  t.throws(() => F.normAxes(5, 2, 'sum'), { message: 'sum: axis 5 out of range for 2-d input' });
  t.throws(() => F.normAxes('a' as never, 2, 'sum'), { message: 'sum: axis must be a number or a list of numbers, got "a"' });
});

const CPU_RUNS = 100;
const FUZZ_RUNS = 20;
const GPU_RUNS = 20;

devices.each('properties: every public op returns the reference result or throws an Error naming the op', async (t, device) => {
  const started = Date.now();
  let cases = 0;
  for (const [name, fn] of ops()) {
    const spec = SPECS[name];
    const runs: [Spec, number][] = device === 'cpu'
      ? [[spec ?? genericSpec, spec ? CPU_RUNS * (spec.runs ?? 1) : 0], [genericSpec, FUZZ_RUNS]]
      : spec?.gpu ? [[spec, GPU_RUNS * (spec.runs ?? 1)]] : [];
    for (const [s, numRuns] of runs) {
      if (numRuns === 0) continue;
      // a generic fuzz knows nothing valid: only the error contract and the shapes are checked
      const asSpec = s === genericSpec ? { args: s.args } : s;
      let failure: Error | undefined;
      const property = fc.asyncProperty(s.args, async (args) => {
        cases++;
        try { await check(name, fn, asSpec, args, device); } catch (e) { failure = e as Error; throw e; }
      });
      const out = await fc.check(property, { numRuns, seed: 7 + name.length, endOnFailure: true });
      if (out.failed) t.fail(`${name}: ${failure?.message ?? 'failed'} (fast-check seed ${out.seed})`);
    }
  }
  const seconds = (Date.now() - started) / 1000;
  t.log(`${device}: ${cases} cases over ${ops().length} ops in ${seconds.toFixed(1)} s`);
  t.true(device === 'cpu' ? cases >= 2000 : cases > 0, `only ${cases} cases`);
});

// ---- int32: the integer ops stay int32, exact and wrapping as NumPy's int32 ---------------

const i32 = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -20, max: 20 }), fc.constantFrom(2 ** 31 - 1, -(2 ** 31), 16777217));
const intRef = shapeArb.chain((shape) => fc.array(i32, { minLength: size(shape), maxLength: size(shape) }).map((data): Ref => ({ shape, data })));
const wrap = (v: number) => v | 0;
const INT_SPECS: Record<string, { arity: number; ref: (...v: number[]) => number }> = {
  add: { arity: 2, ref: (a, b) => wrap(a + b) },
  sub: { arity: 2, ref: (a, b) => wrap(a - b) },
  mul: { arity: 2, ref: (a, b) => Math.imul(a, b) },
  maximum: { arity: 2, ref: Math.max },
  minimum: { arity: 2, ref: Math.min },
  neg: { arity: 1, ref: (a) => wrap(-a) },
  abs: { arity: 1, ref: (a) => wrap(Math.abs(a)) },
  relu: { arity: 1, ref: (a) => (a <= 0 ? 0 : a) },
};

devices.each('properties: int32 add, sub, mul, maximum, minimum, neg, abs, relu stay int32, exact and wrapping', async (t, device) => {
  let cases = 0;
  for (const [name, { arity, ref }] of Object.entries(INT_SPECS)) {
    const fn = (F as unknown as Record<string, (...a: unknown[]) => Variable>)[name];
    const args = arity === 1 ? fc.tuple(intRef) : fc.tuple(intRef, fc.oneof(intRef, i32));
    let failure: string | undefined;
    const out = await fc.check(fc.asyncProperty(args, async (xs) => {
      cases++;
      const real = xs.map((a) => (typeof a === 'number' ? a : array(new Int32Array((a as Ref).data), (a as Ref).shape).to(device)));
      const expected = mapRef(ref, ...xs.map((a) => (typeof a === 'number' ? { shape: [], data: [a] } : a as Ref)));
      let y: Variable;
      try {
        y = fn(...real);
      } catch (e) {
        if (expected !== INVALID || !(e as Error).message.startsWith(`${name}:`)) { failure = `threw ${(e as Error).message}`; return false; }
        return true;
      }
      if (expected === INVALID) { failure = 'returned for shapes that do not broadcast'; return false; }
      const got = Array.from(await y.data.data());
      const ok = y.dtype === 'int32' && y.shape.join() === expected.shape.join() && got.every((v, i) => v === expected.data[i]);
      if (!ok) failure = `${y.dtype} (${y.shape.join(', ')}) ${got.slice(0, 6).join(', ')} vs ${expected.data.slice(0, 6).join(', ')} for ${show(xs)}`;
      return ok;
    }), { numRuns: device === 'cpu' ? 60 : 15, seed: 11 });
    if (out.failed) t.fail(`${name}: ${failure}`);
  }
  t.log(`${device}: ${cases} int32 cases`);
  t.pass();
});
