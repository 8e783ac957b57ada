// The WebAssembly elementwise renderer and its runtime: one module per expression and layout
// class, results equal to the JS loop over every layout class and tail, and the JS fallback.

import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BINARY_OPS, Expr, UNARY_OPS, constant, input, scalar, select } from '../../compiler/expr.js';
import { renderWasmElementwise, wasmRenders } from '../../compiler/wasm/elementwise.js';
import { dispatchStats, elementwise } from '../../runtime/array/cpu/kernels.js';
import { setWasmMinSize, wasmElementwiseStats, wasmModuleCount } from '../../runtime/array/cpu/wasm-elementwise.js';
import { setWasm, wasmEnabled } from '../../runtime/array/cpu/wasm-matmul.js';
import { NDArray } from '../../runtime/array/ndarray.js';

const x = input(0), y = input(1), z = input(2);

// every size runs in wasm here, and the JS reference runs with wasm switched off
setWasmMinSize(0);

/** Run `fn` with the WebAssembly path switched `on`, restoring it after. */
function withWasm<T>(on: boolean, fn: () => T): T {
  const was = wasmEnabled();
  setWasm(on);
  try {
    return fn();
  } finally {
    setWasm(was);
  }
}

/** Deterministic values in [-2, 2) with a few specials mixed in (a small LCG). */
function values(n: number, seed: number, specials = true): Float32Array {
  const out = new Float32Array(n);
  const sp = [NaN, Infinity, -Infinity, 0, -0, 1e-40, 3e38];
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = specials && s % 13 === 0 ? sp[(s >>> 8) % sp.length] : s / 2 ** 30 - 2;
  }
  return out;
}

/**
 * Equal up to float32 rounding of intermediates (the JS loop keeps them in float64): same
 * NaN-ness, equal infinities, else close. A cancellation can amplify rounding, so `atol`
 * scales with the largest intermediate's size for random expressions.
 */
function close(a: number, b: number, rtol: number, atol: number): boolean {
  if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= atol + rtol * Math.abs(b);
}

function compare(t: import('ava').ExecutionContext, what: string, got: NDArray[], want: NDArray[], rtol = 0, atol = 0): boolean {
  for (let j = 0; j < want.length; j++) {
    const g = got[j].toFlat(), w = want[j].toFlat();
    for (let i = 0; i < w.length; i++) {
      if (!close(g[i], w[i], rtol, atol)) {
        t.fail(`${what}, output ${j} at ${i}: wasm ${g[i]}, JS ${w[i]}`);
        return false;
      }
    }
  }
  return true;
}

/** Run through the kernel both ways: wasm (checking it did not fall back) and JS. */
function both(roots: readonly Expr[], inputs: NDArray[], scalars: number[], shape: number[]): { wasm: NDArray[]; js: NDArray[]; modulesAdded: number } {
  const before = wasmModuleCount();
  const runs = wasmElementwiseStats.count;
  const wasm = withWasm(true, () => elementwise(roots, inputs, scalars, shape, 'float32'));
  if (wasmElementwiseStats.count !== runs + 1) throw new Error(`${roots.join(', ')} over ${shape} did not run in wasm`);
  const js = withWasm(false, () => elementwise(roots, inputs, scalars, shape, 'float32'));
  if (wasmElementwiseStats.count !== runs + 1) throw new Error('setWasm(false) still ran wasm');
  return { wasm, js, modulesAdded: wasmModuleCount() - before };
}

/** The primitives that are one float32 operation (exp, log, tanh and sigmoid are polynomials: test/cpu/wasm-transcendental.test.ts). */
const EXACT = (e: Expr) => wasmRenders([e]) && !/exp|log|tanh|sigmoid/.test(String(e));

/** Single ops: float32 single operations round the same from float32 or float64, so bit-exact. */
test('every wasm primitive equals the JS loop bit for bit, NaN, infinities and signed zeros included', (t) => {
  if (!withWasm(true, wasmEnabled)) return t.pass('no WebAssembly SIMD here');
  const n = 1023;
  const a = new NDArray(values(n, 1), [n]), b = new NDArray(values(n, 2), [n]);
  // every pair of specials, both ways round, at the front
  const sp = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 2.5];
  sp.forEach((p, i) => sp.forEach((q, j) => { a.buffer[i * 8 + j] = p; b.buffer[i * 8 + j] = q; }));
  const exprs = [
    ...UNARY_OPS.map((op) => x[op]()), ...BINARY_OPS.map((op) => x[op](y)),
    select(x, y, x.neg()), select(x.gt(y), x, 0), x.mul(scalar(0)), x.add(constant(-0)).min(constant(NaN)),
  ].filter(EXACT);
  t.true(exprs.length >= 17, 'neg abs sqrt sign, 12 binary ops, select...');
  for (const e of exprs) {
    const { wasm, js } = both([e], [a, b], [0.75], [n]);
    if (!compare(t, String(e), wasm, js)) return;
  }
  t.pass();
});

test('pow is declined, and expressions using it run the JS loop; exp, log and tanh render', (t) => {
  for (const e of [x.pow(y), x.add(y).exp().pow(2).mul(2)]) t.false(wasmRenders([e]), String(e));
  for (const e of [x.exp(), x.log(), x.tanh(), x.add(y).exp().mul(2)]) t.true(wasmRenders([e]), String(e));
  t.throws(() => renderWasmElementwise([x.pow(y)], ['full', 'full'], 0), { message: /no wasm rendering/ });
  const a = new NDArray(values(100, 3, false), [100]), b = new NDArray(values(100, 4, false), [100]);
  const before = wasmModuleCount();
  const [y1] = withWasm(true, () => elementwise([x.abs().pow(y)], [a, b], [], [100], 'float32'));
  t.is(wasmModuleCount(), before);
  t.is(y1.buffer[7], Math.fround(Math.abs(a.buffer[7]) ** b.buffer[7]));
});

/** A seeded random expression over the wasm primitives, with awkward literals among the leaves. */
function randomExpr(seed: number, depth: number): Expr {
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  // exact primitives only: a polynomial's ulp, amplified through random chains, is no bug
  const un = UNARY_OPS.filter((op) => EXACT(x[op]()));
  const bin = BINARY_OPS.filter((op) => EXACT(x[op](y)));
  const leaves = [x, y, z, scalar(0), constant(0.5), constant(-2), constant(-0), constant(NaN), constant(Infinity), constant(-Infinity)];
  const go = (d: number): Expr => {
    const r = next();
    if (d === 0 || r < 0.15) return leaves[Math.floor(next() * leaves.length)];
    if (r < 0.45) return go(d - 1)[un[Math.floor(next() * un.length)]]();
    if (r < 0.9) return go(d - 1)[bin[Math.floor(next() * bin.length)]](go(d - 1));
    return select(go(d - 1), go(d - 1), go(d - 1));
  };
  return go(depth);
}

/** The layout classes: contiguous, a single value, a row over a 2-D space, a column. */
const LAYOUTS: { name: string; shape: (n: number) => number[]; operands: (n: number) => number[][] }[] = [
  { name: 'contiguous', shape: (n) => [n], operands: (n) => [[n], [n], [n]] },
  { name: 'scalar-broadcast', shape: (n) => [n], operands: (n) => [[n], [], [1]] },
  { name: 'row-broadcast', shape: (n) => [3, n], operands: (n) => [[3, n], [n], [1, n]] },
  { name: 'column-broadcast', shape: (n) => [n, 5], operands: (n) => [[n, 5], [n, 1], [5]] },
];

for (const layout of LAYOUTS) {
  test(`random expressions equal the JS loop: ${layout.name}, sizes with tails`, (t) => {
    if (!withWasm(true, wasmEnabled)) return t.pass('no WebAssembly SIMD here');
    const roots = Array.from({ length: 30 }, (_, i) => randomExpr(i + 1, 4)).filter((e) => !e.isConst && wasmRenders([e]));
    for (const n of [1, 3, 5, 8, 1023]) {
      const shape = layout.shape(n);
      const inputs = layout.operands(n).map((s, k) => new NDArray(values(s.reduce((p, q) => p * q, 1), 10 * n + k), s));
      // multi-output: all roots in one kernel, against the JS loop (values up to ~1e2
      // after a few ops; a cancellation of float32-rounded intermediates may lose ~1e-4)
      const { wasm, js } = both(roots, inputs, [0.25], shape);
      if (!compare(t, `${layout.name} n=${n}`, wasm, js, 1e-4, 1e-3)) return;
    }
    t.pass();
  });
}

test('one module per expression and layout class: a second call, or another size, is a cache hit', (t) => {
  if (!withWasm(true, wasmEnabled)) return t.pass('no WebAssembly SIMD here');
  const e = x.mul(y).add(constant(0.125)).max(x.sub(z));
  const run = (shape: number[], ys: number[]) => {
    const ins = [new NDArray(values(shape.reduce((p, q) => p * q, 1), 5), shape), new NDArray(values(ys.reduce((p, q) => p * q, 1), 6), ys), new NDArray(values(1, 7), [1])];
    return both([e], ins, [], shape).modulesAdded;
  };
  t.is(run([1000], [1000]), 1);
  t.is(run([1000], [1000]), 0);
  t.is(run([37], [37]), 0, 'the size is a runtime argument');
  t.is(run([4, 50], [50]), 1, 'a row broadcast is another layout class');
  t.is(run([8, 50], [50]), 0);
  // the module's name carries the content hash; the same content renders the same bytes
  const m1 = renderWasmElementwise([e], ['full', 'full', 'scalar'], 0), m2 = renderWasmElementwise([e], ['full', 'full', 'scalar'], 0);
  t.regex(m1.name, /^fused_mul_add_sub_max_[0-9a-f]{16}$/);
  t.deepEqual(m1.bytes, m2.bytes);
  t.not(renderWasmElementwise([e], ['full', 'row', 'scalar'], 0).name, m1.name);
  t.not(renderWasmElementwise([x.add(constant(-0))], ['full'], 0).key, renderWasmElementwise([x.add(constant(0.5))], ['full'], 0).key);
});

test('in-place outputs: writing over an input gives the result the JS loop gives', (t) => {
  if (!withWasm(true, wasmEnabled)) return t.pass('no WebAssembly SIMD here');
  for (const on of [true, false]) {
    const a = new NDArray(values(1023, 11), [1023]), b = new NDArray(values(1023, 12), [1023]);
    const a0 = a.toFlat(), b0 = b.toFlat();
    // two outputs, written over both inputs, each reading both
    withWasm(on, () => elementwise([x.add(y), x.sub(y)], [a, b], [], [1023], 'float32', [b, a]));
    for (let i = 0; i < 1023; i++) {
      const s = Math.fround(a0[i] + b0[i]), d = Math.fround(a0[i] - b0[i]);
      if (!close(b.buffer[i], s, 0, 0) || !close(a.buffer[i], d, 0, 0)) return t.fail(`wasm ${on} at ${i}: ${b.buffer[i]}, ${a.buffer[i]} vs ${s}, ${d}`);
    }
  }
  t.pass();
});

test('float64, other dtypes among inputs, and non-contiguous outputs run the JS loop', (t) => {
  if (!withWasm(true, wasmEnabled)) return t.pass('no WebAssembly SIMD here');
  const before = wasmModuleCount(), runs = wasmElementwiseStats.count;
  const d = new NDArray(Float64Array.from([1, 2, 3]), [3]);
  t.deepEqual(Array.from(withWasm(true, () => elementwise([x.mul(3)], [d], [], [3], 'float64'))[0].toFlat()), [3, 6, 9]);
  const labels = new NDArray(Int32Array.from([1, 0, 2]), [3]);
  t.deepEqual(Array.from(withWasm(true, () => elementwise([x.eq(1)], [labels], [], [3], 'float32'))[0].toFlat()), [1, 0, 0]);
  // an output written through a transposed view
  const m = new NDArray(values(12, 1), [3, 4]), out = new NDArray(new Float32Array(12), [4, 3]);
  withWasm(true, () => elementwise([x.add(1)], [m], [], [3, 4], 'float32', [out.transpose([1, 0])]));
  t.deepEqual(Array.from(out.transpose([1, 0]).toFlat()), Array.from(m.toFlat()).map((v) => Math.fround(v + 1)));
  t.is(wasmModuleCount(), before);
  t.is(wasmElementwiseStats.count, runs);
});

/** A seeded view of rank `rank` over fresh storage: a random permutation, steps (some negative), size-1 dims and broadcasts. */
function randomView(shape: readonly number[], seed: number): NDArray {
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  // broadcast some axes (extent 1 in the operand) and drop some leading ones
  const own = shape.map((n) => (next() < 0.3 ? 1 : n));
  const lead = Math.floor(next() * 2);
  const viewShape = own.slice(lead);
  // storage laid out in a random axis order with random steps, walked back to front on some axes
  const perm = viewShape.map((_, i) => i).sort(() => next() - 0.5);
  const steps = viewShape.map(() => 1 + Math.floor(next() * 2));
  const strides = new Array<number>(viewShape.length);
  let span = 1;
  for (let j = perm.length - 1; j >= 0; j--) {
    const d = perm[j];
    strides[d] = span * steps[d];
    span *= viewShape[d] * steps[d];
  }
  let offset = 0;
  viewShape.forEach((n, d) => {
    if (next() < 0.3) {
      offset += (n - 1) * strides[d];
      strides[d] = -strides[d];
    }
  });
  return new NDArray(values(span, seed), [span]).view(viewShape, strides, offset);
}

test('strided, transposed, stepped and broadcast views of ranks 1 to 6 run a transcendental chain in one wasm loop, equal to the JS loop', (t) => {
  if (!withWasm(true, wasmEnabled)) return t.pass('no WebAssembly SIMD here');
  const roots = [x.mul(y).add(z.abs().sqrt()).tanh(), x.sub(z).mul(scalar(0)).exp().min(1e6), select(y.gt(0), x, z.neg())];
  let cases = 0;
  const gathered = wasmElementwiseStats.gathered;
  for (let rank = 1; rank <= 6; rank++) {
    for (let trial = 0; trial < 8; trial++) {
      const seed = rank * 100 + trial;
      let s = seed;
      const shape = Array.from({ length: rank }, () => 1 + ((s = (Math.imul(s, 69069) + 1) >>> 0) % (rank > 4 ? 4 : 7)));
      const inputs = [0, 1, 2].map((k) => randomView(shape, seed * 3 + k + 1));
      const { wasm, js } = both(roots, inputs, [0.5], shape);
      if (!compare(t, `rank ${rank} shape ${shape} strides ${inputs.map((a) => a.strides)}`, wasm, js, 1e-5, 1e-6)) return;
      cases++;
    }
  }
  t.is(cases, 48);
  // without a transcendental, a gather costs what the JS loop's strided walk does: JS loop
  const runs = wasmElementwiseStats.count, m = new NDArray(values(12, 1), [3, 4]);
  const [tr] = withWasm(true, () => elementwise([x.add(1)], [m.transpose([1, 0])], [], [4, 3], 'float32'));
  t.deepEqual(Array.from(tr.toFlat()), Array.from(m.transpose([1, 0]).toFlat()).map((v) => Math.fround(v + 1)));
  t.is(wasmElementwiseStats.count, runs);
  t.true(wasmElementwiseStats.gathered - gathered > 48, 'most of these inputs are gathered by strides');
});

test('the wasm path is one dispatch, like the JS loop', (t) => {
  const a = new NDArray(values(64, 1), [64]);
  for (const on of [true, false]) {
    const before = dispatchStats.count;
    withWasm(on, () => elementwise([x.mul(2).add(1), x.neg()], [a], [], [64], 'float32'));
    t.is(dispatchStats.count - before, 1);
  }
});

test('setWasm(false) forces the JS loop: no module compiled, same results', (t) => {
  const e = x.mul(1.5).sub(y).abs().min(3);
  const a = new NDArray(values(2000, 21), [2000]), b = new NDArray(values(2000, 22), [2000]);
  const before = wasmModuleCount();
  const [js] = withWasm(false, () => elementwise([e], [a, b], [], [2000], 'float32'));
  t.is(wasmModuleCount(), before, 'the fallback compiles nothing');
  const [w] = withWasm(true, () => elementwise([e], [a, b], [], [2000], 'float32'));
  t.true(compare(t, String(e), [w], [js], 1e-6, 1e-6));
});

test('KUSARI_NO_WASM=1 and KUSARI_WASM_MIN_SIZE choose the path elementwise kernels take', async (t) => {
  // a 100-element tanh chain: under the default minimum size it runs the JS loop
  const script = [
    "const { input } = await import('./compiler/expr.ts');",
    "const { elementwise } = await import('./runtime/array/cpu/kernels.ts');",
    "const { wasmElementwiseStats } = await import('./runtime/array/cpu/wasm-elementwise.ts');",
    "const { NDArray } = await import('./runtime/array/ndarray.ts');",
    "elementwise([input(0).tanh().mul(2)], [new NDArray(new Float32Array(100).fill(0.5), [100])], [], [100], 'float32');",
    'console.log(wasmElementwiseStats.count);',
  ].join(' ');
  const run = async (env: Record<string, string | undefined>) => (await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, KUSARI_NO_WASM: undefined, KUSARI_WASM_MIN_SIZE: undefined, ...env }, timeout: 30_000,
  })).stdout.trim();
  const simd = withWasm(true, wasmEnabled);
  t.is(await run({}), '0', 'below the default minimum size');
  t.is(await run({ KUSARI_WASM_MIN_SIZE: '0' }), simd ? '1' : '0');
  t.is(await run({ KUSARI_WASM_MIN_SIZE: '0', KUSARI_NO_WASM: '1' }), '0');
});
