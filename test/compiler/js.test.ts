// The JS renderer: one loop nest per kernel, collapse(), both sinks, numbers against evaluate().

import test from 'ava';
import { BINARY_OPS, Expr, UNARY_OPS, constant, evaluate, input, scalar, select } from '../../compiler/expr.js';
import { collapse, compileLoop, renderLoop, type Layout, type NumArray } from '../../compiler/js.js';

const x = input(0), y = input(1), z = input(2);

/** Row-major positions of `shape`, outermost first (the order the loops walk). */
function positions(shape: readonly number[]): number[][] {
  let out: number[][] = [[]];
  for (const n of shape) out = out.flatMap((p) => Array.from({ length: n }, (_, i) => [...p, i]));
  return out;
}
const at = (strides: readonly number[], offset: number, pos: readonly number[]) => pos.reduce((a, i, d) => a + i * strides[d], offset);
const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

test('renderLoop emits one loop nest whatever the number of outputs', (t) => {
  for (const rank of [1, 2, 3]) {
    const src = renderLoop([x.mul(y).tanh(), x.add(y)], 2, rank, { kind: 'store' });
    const lines = src.split('\n');
    const loops = lines.flatMap((l, i) => (l.trimStart().startsWith('for (') ? [i] : []));
    t.is(loops.length, rank, src);
    const firstClose = lines.findIndex((l) => l.trim() === '}');
    t.true(firstClose > loops[loops.length - 1], 'every loop opens before the first one closes');
    t.is(lines.filter((l) => l.trim() === '}').length, rank);
    // each loop sits one level deeper than the one before: a nest, not siblings
    loops.forEach((li, d) => t.is(lines[li].length - lines[li].trimStart().length, 2 * d));
  }
});

test('renderLoop computes a shared subterm once', (t) => {
  const s = x.mul(y);
  const src = renderLoop([s.exp().add(s)], 2, 1, { kind: 'store' });
  t.is(src.split('(x0 * x1)').length - 1, 1, src);
});

test('collapse merges dims every operand walks contiguously', (t) => {
  const l = collapse({ shape: [2, 3, 4], strides: [[12, 4, 1], [12, 4, 1]], offsets: [0, 5] });
  t.deepEqual(l, { shape: [24], strides: [[1], [1]], offsets: [0, 5] });
});

test('collapse drops size-1 dims before merging', (t) => {
  const l = collapse({ shape: [2, 1, 3, 1], strides: [[3, 99, 1, 7], [3, 3, 1, 1]], offsets: [0, 0] });
  t.deepEqual(l, { shape: [6], strides: [[1], [1]], offsets: [0, 0] });
  const all = collapse({ shape: [1, 1], strides: [[5, 1]], offsets: [3] });
  t.deepEqual(all, { shape: [1], strides: [[0]], offsets: [3] });
});

test('collapse keeps a broadcast (stride 0) dim apart, and merges a fully broadcast operand', (t) => {
  // (2, 3) + (3,): the row is re-read for every i, so two dims remain
  const row = collapse({ shape: [2, 3], strides: [[3, 1], [0, 1], [3, 1]], offsets: [0, 0, 0] });
  t.deepEqual(row.shape, [2, 3]);
  t.deepEqual(row.strides, [[3, 1], [0, 1], [3, 1]]);
  // (2, 3) + (): stride 0 everywhere merges like a contiguous run
  const sc = collapse({ shape: [2, 3], strides: [[3, 1], [0, 0], [3, 1]], offsets: [0, 0, 0] });
  t.deepEqual(sc, { shape: [6], strides: [[1], [0], [1]], offsets: [0, 0, 0] });
  // (2, 3, 4) + (2, 1, 4): the middle dim is broadcast, the outer two cannot merge
  const mid = collapse({ shape: [2, 3, 4], strides: [[12, 4, 1], [4, 0, 1]], offsets: [0, 0] });
  t.deepEqual(mid.shape, [2, 3, 4]);
  // a transposed view does not merge
  const tr = collapse({ shape: [2, 3], strides: [[1, 2], [3, 1]], offsets: [0, 0] });
  t.deepEqual(tr.shape, [2, 3]);
});

/** Run `roots` through the generated loop over float64 operands; outputs are contiguous. */
function runStore(roots: readonly Expr[], operands: { data: Float64Array; strides: number[]; offset: number }[], shape: number[], scalars: number[] = []): Float64Array[] {
  const size = shape.reduce((a, b) => a * b, 1);
  const outs = roots.map(() => new Float64Array(size).fill(-7));
  const contiguous = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const layout = collapse({
    shape,
    strides: [...operands.map((o) => o.strides), ...outs.map(() => contiguous)],
    offsets: [...operands.map((o) => o.offset), ...outs.map(() => 0)],
  });
  const fn = compileLoop(renderLoop(roots, operands.length, layout.shape.length, { kind: 'store' }));
  fn([...operands.map((o) => o.data), ...outs], scalars, layout.shape, layout.strides, layout.offsets);
  return outs;
}

/** A seeded random expression over every primitive, with awkward literals among the leaves. */
function randomExpr(seed: number, depth: number): Expr {
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const leaves = [x, y, z, scalar(0), constant(0.5), constant(-2), constant(-0), constant(NaN), constant(Infinity), constant(-Infinity)];
  const go = (d: number): Expr => {
    const r = next();
    if (d === 0 || r < 0.15) return leaves[Math.floor(next() * leaves.length)];
    if (r < 0.45) return go(d - 1)[UNARY_OPS[Math.floor(next() * UNARY_OPS.length)]]();
    if (r < 0.9) return go(d - 1)[BINARY_OPS[Math.floor(next() * BINARY_OPS.length)]](go(d - 1));
    return select(go(d - 1), go(d - 1), go(d - 1));
  };
  return go(depth);
}

test('generated loops equal evaluate() bit for bit, over views and broadcasting', (t) => {
  const shape = [3, 4, 5];
  const fill = (n: number, f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));
  const operands = [
    { data: fill(60, (i) => (i % 11) / 3 - 1.5), strides: [20, 5, 1], offset: 0 }, // contiguous
    { data: fill(6, (i) => i - 2.5), strides: [0, 1, 0], offset: 2 }, // (1, 4, 1) broadcast, offset into its buffer
    { data: fill(61, (i) => Math.cos(i)), strides: [1, 3, 12], offset: 1 }, // a transposed (5, 4, 3) view
  ];
  const roots = Array.from({ length: 40 }, (_, i) => randomExpr(i + 1, 4));
  const outs = runStore(roots, operands, shape, [0.25]);
  const ps = positions(shape);
  roots.forEach((e, j) => {
    for (let q = 0; q < ps.length; q++) {
      const xs = operands.map((o) => o.data[at(o.strides, o.offset, ps[q])]);
      const want = evaluate(e, xs, [0.25]);
      if (!same(outs[j][q], want)) {
        t.fail(`${e} at ${ps[q]}: loop gave ${outs[j][q]}, evaluate ${want}`);
        return;
      }
    }
  });
  t.pass();
});

test('a multi-output kernel writes every output at its own strides', (t) => {
  // output 1 is written through a transposed view
  const a = Float64Array.from([1, 2, 3, 4, 5, 6]);
  const o0 = new Float64Array(6), o1 = new Float64Array(6);
  const layout = collapse({ shape: [2, 3], strides: [[3, 1], [3, 1], [1, 2]], offsets: [0, 0, 0] });
  compileLoop(renderLoop([x.mul(2), x.neg()], 1, layout.shape.length, { kind: 'store' }))(
    [a, o0, o1], [], layout.shape, layout.strides, layout.offsets);
  t.deepEqual(Array.from(o0), [2, 4, 6, 8, 10, 12]);
  t.deepEqual(Array.from(o1), [-1, -4, -2, -5, -3, -6]);
});

/** Reduce map(x) over `axes` of a contiguous (4, 5) array with the generated loop. */
function runReduce(op: 'sum' | 'max' | 'min', map: Expr, data: Float64Array, axes: number[]): { out: Float64Array; innerStays: boolean; src: string } {
  const shape = [4, 5];
  const outShape = shape.map((n, d) => (axes.includes(d) ? 1 : n));
  const out = new Float64Array(outShape[0] * outShape[1]).fill(op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity);
  const accStrides = [outShape[1], 1].map((s, d) => (axes.includes(d) ? 0 : s));
  const layout: Layout = collapse({ shape, strides: [[5, 1], accStrides], offsets: [0, 0] });
  const rank = layout.shape.length;
  const innerStays = layout.strides[1][rank - 1] === 0;
  const src = renderLoop([map], 1, rank, { kind: 'reduce', op, innerStays });
  compileLoop(src)([data, out] as NumArray[], [], layout.shape, layout.strides, layout.offsets);
  return { out, innerStays, src };
}

test('a reduce sink whose accumulator stays put innermost sums in a register', (t) => {
  const data = Float64Array.from({ length: 20 }, (_, i) => i - 7.5);
  const { out, innerStays, src } = runReduce('sum', x.mul(x), data, [1]);
  t.true(innerStays);
  t.regex(src, /let acc = /);
  const want = [0, 1, 2, 3].map((r) => [0, 1, 2, 3, 4].reduce((s, c) => s + evaluate(x.mul(x), [data[r * 5 + c]]), 0));
  t.deepEqual(Array.from(out), want);
});

test('a reduce sink whose accumulator moves innermost combines in memory', (t) => {
  const data = Float64Array.from({ length: 20 }, (_, i) => Math.sin(i));
  const { out, innerStays, src } = runReduce('sum', x.abs(), data, [0]);
  t.false(innerStays);
  t.notRegex(src, /let acc = /);
  const want = [0, 1, 2, 3, 4].map((c) => [0, 1, 2, 3].reduce((s, r) => s + Math.abs(data[r * 5 + c]), 0));
  t.deepEqual(Array.from(out), want);
});

test('max and min sinks keep a NaN once seen, both ways round', (t) => {
  const data = Float64Array.from({ length: 20 }, (_, i) => (i === 6 ? NaN : i % 7));
  for (const axes of [[0], [1], [0, 1]]) {
    const mx = runReduce('max', x, data, axes).out, mn = runReduce('min', x, data, axes).out;
    t.true(Array.from(mx).some(Number.isNaN), `max over ${axes}`);
    t.true(Array.from(mn).some(Number.isNaN), `min over ${axes}`);
  }
  t.deepEqual(Array.from(runReduce('max', x, data, [1]).out).map(String), ['4', 'NaN', '6', '5']);
  t.deepEqual(Array.from(runReduce('min', x.neg(), data, [0]).out).map(String), ['-5', 'NaN', '-5', '-6', '-5']);
});

test('compileLoop compiles each distinct source once', (t) => {
  const src = renderLoop([x.add(y).exp()], 2, 2, { kind: 'store' });
  t.is(compileLoop(src), compileLoop(src));
});
