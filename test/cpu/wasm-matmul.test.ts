// The WebAssembly float32 matmul against a float64 triple loop: shapes with ragged edges,
// every view layout packing must absorb, batches, other tile shapes, and the JS fallback.

import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Tile } from '../../compiler/wasm/matmul.js';
import { dispatchStats } from '../../runtime/array/cpu/kernels.js';
import { matmulCpu as matmul } from '../../runtime/ops/matmul/cpu.js';
import { productStats, relaxedSimdSupported, setWasm, simdSupported, wasmEnabled, wasmMatmul } from '../../runtime/array/cpu/wasm-matmul.js';
import { NDArray, type DType } from '../../runtime/array/ndarray.js';

/** Deterministic values in [-1, 1) (a small LCG), so a failure reproduces. */
function values(n: number, seed: number, dtype: DType = 'float32'): Float32Array | Float64Array {
  const out = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * An (rows x cols) view laid out as `layout` over fresh storage: row-major, transposed
 * (column-major), a block inside a bigger matrix (offset, padded row stride), the same
 * transposed, a stepped slice (no unit stride), or one row broadcast down (stride 0).
 */
type Layout = 'plain' | 'transposed' | 'block' | 'block-transposed' | 'stepped' | 'broadcast';
const LAYOUTS: readonly Layout[] = ['plain', 'transposed', 'block', 'block-transposed', 'stepped', 'broadcast'];

function view(rows: number, cols: number, layout: Layout, seed: number, dtype: DType = 'float32'): NDArray {
  switch (layout) {
    case 'plain': return new NDArray(values(rows * cols, seed, dtype), [rows, cols]);
    case 'transposed': return new NDArray(values(rows * cols, seed, dtype), [cols, rows]).transpose([1, 0]);
    case 'block': return new NDArray(values((rows + 3) * (cols + 5), seed, dtype), [rows, cols], [cols + 5, 1], 2 * (cols + 5) + 1);
    case 'block-transposed': return new NDArray(values((cols + 2) * (rows + 3), seed, dtype), [rows, cols], [1, rows + 3], rows + 3 + 2);
    case 'stepped': return new NDArray(values(rows * cols * 4, seed, dtype), [rows, cols], [4 * cols, 2], 1);
    case 'broadcast': return new NDArray(values(cols, seed, dtype), [rows, cols], [0, 1], 0);
    default: return layout satisfies never;
  }
}

/** x[i, j] of a 2-D view. */
const at = (x: NDArray, i: number, j: number) => x.buffer[x.offset + i * x.strides[0] + j * x.strides[1]];

/**
 * Assert y (m x n) = a @ b within float32 rounding of a length-k sum: |y - ref| is bounded by
 * about k ulps of sum |a||b| whatever the summation order.
 */
function expectMatmul(t: import('ava').ExecutionContext, y: NDArray, a: NDArray, b: NDArray, what: string): void {
  const [m, k] = a.shape, n = b.shape[1];
  t.deepEqual(y.shape, [m, n], what);
  const out = y.toFlat();
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0, abs = 0;
      for (let p = 0; p < k; p++) {
        const v = at(a, i, p) * at(b, p, j);
        s += v;
        abs += Math.abs(v);
      }
      const err = Math.abs(out[i * n + j] - s);
      if (!(err <= (k + 2) * 2 ** -23 * abs)) {
        t.fail(`${what}: y[${i}, ${j}] = ${out[i * n + j]}, expected ${s} (sum |ab| ${abs})`);
        return;
      }
    }
  }
  t.pass();
}

// ragged edges in m and n, k = 1, k past one cache block (KC 256), m past MC (128), n past NC (4096),
// k = 4 groups + 0, 1, 2 and 3 (the in-place kernel's tail), k past what that kernel takes (1024)
const SHAPES: readonly [number, number, number][] = [
  [1, 1, 1], [3, 5, 7], [4, 8, 16], [65, 17, 129], [100, 784, 10], [2, 600, 3], [130, 40, 9], [1, 300, 1], [5, 1, 5], [2, 3, 4100],
  [7, 14, 11], [9, 1100, 6],
];

test('WebAssembly SIMD is available here, so the fast path is what the other tests run', (t) => {
  t.true(simdSupported());
  t.true(wasmEnabled());
});

for (const [m, k, n] of SHAPES) {
  test(`${m}x${k}x${n} over every layout of A and B`, (t) => {
    for (const la of LAYOUTS) {
      // a broadcast B (every row equal) is legal but a weak test of packing: use it only for A
      for (const lb of LAYOUTS.filter((l) => l !== 'broadcast')) {
        if (la !== 'plain' && lb !== 'plain' && la !== lb) continue; // each layout against plain, and itself
        const a = view(m, k, la, m * 31 + k), b = view(k, n, lb, n * 17 + k + 1);
        expectMatmul(t, wasmMatmul(a, b)!, a, b, `${la} @ ${lb}`);
      }
    }
  });
}

test('x W^T (both operands along k) is multiplied in place, without packing; other layouts are packed', (t) => {
  const before = productStats.inPlace;
  wasmMatmul(view(6, 10, 'plain', 1), view(10, 5, 'transposed', 2));
  t.is(productStats.inPlace, before + 1);
  wasmMatmul(view(6, 10, 'plain', 1), view(10, 5, 'plain', 2));
  wasmMatmul(view(6, 10, 'transposed', 1), view(10, 5, 'transposed', 2));
  t.is(productStats.inPlace, before + 1);
});

test("the in-place kernel's k tail reads past a row and clears those lanes: an Inf in the next column of B reaches only its own column", (t) => {
  // k = 6: one group of 4, then a tail of 2 whose lanes 2 and 3 lie in B's next column
  for (const k of [1, 2, 3, 6, 7]) {
    const [m, n] = [5, 3];
    const a = view(m, k, 'plain', 3), W = view(n, k, 'plain', 4);
    W.buffer[k] = Infinity; // W[1, 0]: B's column 1 starts with it
    const b = W.transpose([1, 0]);
    const y = wasmMatmul(a, b)!;
    const bad = y.toFlat().findIndex((v, q) => (q % n === 1 ? Number.isFinite(v) : !Number.isFinite(v)));
    t.is(bad, -1, `k = ${k}: element ${bad} is ${y.toFlat()[bad]}`);
    // columns 0 and 2 against the reference (column 1 zeroed on both sides)
    const masked = new NDArray(Float32Array.from(y.toFlat(), (v, q) => (q % n === 1 ? 0 : v)), [m, n]);
    const bRef = new NDArray(Float32Array.from({ length: k * n }, (_, q) => (q % n === 1 ? 0 : W.buffer[(q % n) * k + Math.floor(q / n)])), [k, n]);
    expectMatmul(t, masked, a, bRef, `k = ${k}`);
  }
});

test('batched, with a broadcast batch axis and transposed operands', (t) => {
  const [m, k, n] = [9, 33, 14];
  const a = new NDArray(values(2 * 3 * k * m, 5), [2, 3, k, m]).transpose([0, 1, 3, 2]);
  const bOne = new NDArray(values(k * n, 6), [1, 1, k, n]);
  const b = bOne.broadcastTo([2, 3, k, n]);
  const y = matmul(a, b, 'float32');
  t.deepEqual(y.shape, [2, 3, m, n]);
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 3; j++) {
      const ai = a.view([m, k], a.strides.slice(2), a.offset + i * a.strides[0] + j * a.strides[1]);
      const bi = bOne.view([k, n], bOne.strides.slice(2), 0);
      const yi = y.view([m, n], y.strides.slice(2), (i * 3 + j) * m * n);
      expectMatmul(t, new NDArray(new Float32Array(yi.toFlat()), [m, n]), ai, bi, `batch ${i}, ${j}`);
    }
  }
});

test('other tile shapes give the same products (partial panels, k padding, scalar packers)', (t) => {
  const tiles: Tile[] = [
    { mr: 2, nr: 16, unroll: 1 }, { mr: 3, nr: 12, unroll: 4 }, { mr: 5, nr: 8, unroll: 2 }, { mr: 1, nr: 4, unroll: 1 }, { mr: 8, nr: 4, unroll: 3 },
    // the multiply-add kernel, on the default shape and on one with partial panels and unrolling
    ...(relaxedSimdSupported() ? [{ mr: 4, nr: 8, unroll: 1, fma: true }, { mr: 3, nr: 12, unroll: 2, fma: true }] : []),
  ];
  for (const tile of tiles) {
    // the big product first, so the small one's padding would pick up its leftovers if not zeroed
    for (const [m, k, n] of [[33, 300, 21], [7, 13, 19]]) {
      for (const [la, lb] of [['plain', 'plain'], ['transposed', 'transposed'], ['plain', 'transposed']] as const) {
        const a = view(m, k, la, 1), b = view(k, n, lb, 2);
        expectMatmul(t, wasmMatmul(a, b, tile)!, a, b, `${JSON.stringify(tile)} ${m}x${k}x${n} ${la} @ ${lb}`);
      }
    }
  }
});

test('the op path dispatches once and float64 stays on the JS kernel, exactly as before', (t) => {
  const a = view(20, 30, 'plain', 3), b = view(30, 10, 'transposed', 4);
  const before = dispatchStats.count;
  const y = matmul(a, b, 'float32');
  t.is(dispatchStats.count - before, 1);
  t.deepEqual([...y.toFlat()], [...wasmMatmul(a, b)!.toFlat()]);
  const a64 = view(20, 30, 'plain', 3, 'float64'), b64 = view(30, 10, 'transposed', 4, 'float64');
  const y64 = matmul(a64, b64, 'float64');
  t.is(y64.dtype, 'float64');
  for (let i = 0; i < 20; i++) {
    for (let j = 0; j < 10; j++) {
      let s = 0;
      for (let p = 0; p < 30; p++) s += at(a64, i, p) * at(b64, p, j);
      t.true(Math.abs(y64.toFlat()[i * 10 + j] - s) <= 1e-13 * 30, `y64[${i}, ${j}]`);
    }
  }
});

test.serial('setWasm(false) forces the JS kernel, which gives the same products', (t) => {
  const a = view(65, 130, 'block', 7), b = view(130, 33, 'transposed', 8);
  const fast = matmul(a, b, 'float32');
  setWasm(false);
  try {
    t.false(wasmEnabled());
    const slow = matmul(a, b, 'float32');
    expectMatmul(t, slow, a, b, 'JS fallback');
    const f = fast.toFlat(), s = slow.toFlat();
    for (let i = 0; i < f.length; i++) t.true(Math.abs(f[i] - s[i]) <= 1e-5 * (1 + Math.abs(s[i])), `element ${i}`);
  } finally {
    setWasm(true);
  }
  t.true(wasmEnabled());
});

test('KUSARI_NO_WASM=1 starts with the JS kernel', async (t) => {
  const script = "const m = await import('./runtime/array/cpu/wasm-matmul.ts'); console.log(m.wasmEnabled());";
  const run = (env: Record<string, string>) => promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, ...env }, timeout: 20_000,
  });
  t.is((await run({ KUSARI_NO_WASM: '1' })).stdout.trim(), 'false');
  t.is((await run({ KUSARI_NO_WASM: '0' })).stdout.trim(), 'true');
});

test.serial('NaN and Infinity land where the JS kernel puts them (zero padding never leaks in)', (t) => {
  const a = view(6, 9, 'plain', 9), b = view(9, 5, 'plain', 10);
  a.buffer[2 * 9 + 4] = NaN; // row 2 of y: all NaN
  b.buffer[3 * 5 + 1] = Infinity; // column 1 of y: +-Infinity (or NaN in row 2)
  const fast = matmul(a, b, 'float32').toFlat();
  setWasm(false);
  let slow: ArrayLike<number>;
  try {
    slow = matmul(a, b, 'float32').toFlat();
  } finally {
    setWasm(true);
  }
  for (let i = 0; i < fast.length; i++) {
    const same = Number.isNaN(slow[i]) ? Number.isNaN(fast[i]) : !Number.isFinite(slow[i]) ? fast[i] === slow[i] : Math.abs(fast[i] - slow[i]) < 1e-5;
    t.true(same, `element ${i}: ${fast[i]} vs ${slow[i]}`);
  }
  t.true(Number.isNaN(fast[2 * 5]));
  t.false(Number.isFinite(fast[1]));
});

test('empty operands: k = 0 gives zeros, m = 0 an empty result', (t) => {
  const y = wasmMatmul(new NDArray(new Float32Array(0), [3, 0]), new NDArray(new Float32Array(0), [0, 4]))!;
  t.deepEqual(y.shape, [3, 4]);
  t.deepEqual([...y.toFlat()], new Array(12).fill(0));
  t.deepEqual(wasmMatmul(new NDArray(new Float32Array(0), [0, 5]), view(5, 2, 'plain', 1))!.shape, [0, 2]);
  // large enough for a result array that is not zeroed when allocated: the copy-out writes every element
  for (let i = 0; i < 3; i++) wasmMatmul(view(60, 70, 'plain', i), view(70, 80, 'plain', i + 1)); // leave garbage to be reused
  const big = wasmMatmul(new NDArray(new Float32Array(0), [60, 0]), new NDArray(new Float32Array(0), [0, 80]))!;
  t.true(big.toFlat().every((v) => v === 0));
});

test.serial('memory is grown once and then reused: no growth on repeated calls', (t) => {
  const grow = WebAssembly.Memory.prototype.grow;
  let grows = 0;
  WebAssembly.Memory.prototype.grow = function (this: WebAssembly.Memory, delta: number) {
    grows++;
    return grow.call(this, delta);
  };
  try {
    const a = view(200, 300, 'plain', 1), b = view(300, 400, 'transposed', 2);
    wasmMatmul(a, b);
    grows = 0;
    for (let i = 0; i < 3; i++) wasmMatmul(a, b);
    wasmMatmul(view(10, 20, 'plain', 3), view(20, 30, 'plain', 4));
    t.is(grows, 0);
  } finally {
    WebAssembly.Memory.prototype.grow = grow;
  }
});

test('products use fused multiply-add where relaxed SIMD validates, Node 20 included (its V8 has it behind a flag, which is switched on)', (t) => {
  const [major] = process.versions.node.split('.').map(Number);
  // Node 20's V8 (11.3) validates relaxed SIMD once the flag is on; later Nodes ship it
  if (major >= 20) t.true(relaxedSimdSupported());
  // the multiply-add kernel differs from mul-then-add by at most float32 rounding per step
  const a = view(37, 300, 'plain', 11), b = view(300, 29, 'transposed', 12);
  const fused = wasmMatmul(a, b, { mr: 4, nr: 8, unroll: 1, fma: true })!, plain = wasmMatmul(a, b, { mr: 4, nr: 8, unroll: 1 })!;
  const f = fused.toFlat(), p = plain.toFlat();
  let worst = 0;
  for (let i = 0; i < f.length; i++) worst = Math.max(worst, Math.abs(f[i] - p[i]));
  t.true(worst < 1e-4, `fma and mul+add differ by ${worst}`);
});
