// The f32x4 exp, log, tanh and sigmoid of compiler/wasm/transcendental.ts: dense sweeps of every
// float32 in chosen ranges plus random bit patterns over the whole line, against Math.* in
// float64, with the measured error logged; the specials; and chains using them in wasm.

import test from 'ava';
import { input, sigmoid, type Expr } from '../../compiler/expr.js';
import { vjp } from '../../compiler/grad.js';
import { renderWasmElementwise, wasmRenders } from '../../compiler/wasm/elementwise.js';
import { elementwise } from '../../runtime/array/cpu/kernels.js';
import { setWasmMinSize, wasmElementwiseStats } from '../../runtime/array/cpu/wasm-elementwise.js';
import { setWasm, wasmEnabled } from '../../runtime/array/cpu/wasm-matmul.js';
import { NDArray } from '../../runtime/array/ndarray.js';

const x = input(0);
const simd = wasmEnabled();
const OPS = { exp: Math.exp, log: Math.log, tanh: Math.tanh, sigmoid } as const;
type Op = keyof typeof OPS;

/** Run `op` over float32 bit patterns `bits` in the generated module (its own memory). */
function runOp(op: Op, bits: Uint32Array): Float32Array {
  const n = bits.length;
  const memory = new WebAssembly.Memory({ initial: Math.ceil((n * 8 + 16) / 65536) });
  const m = renderWasmElementwise([x[op]()], ['full'], 0);
  const main = new WebAssembly.Instance(new WebAssembly.Module(m.bytes), { env: { memory } }).exports.main as (...a: number[]) => void;
  new Uint32Array(memory.buffer, 0, n).set(bits);
  // an odd count: the last n % 4 go through the scalar tail
  main(1, n, 0, n * 4);
  return new Float32Array(memory.buffer, n * 4, n).slice();
}

/** The float32 spacing at |v| (denormals: 2^-149). */
const ulpOf = (v: number) => {
  const a = Math.abs(v);
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
};

interface Err { maxUlp: number; maxRel: number; at: number; wrong: string[] }

/** Errors of `got` against the float64 reference; infinities, NaNs and zeros must match exactly. */
function measure(op: Op, bits: Uint32Array, got: Float32Array, err: Err): void {
  const xs = new Float32Array(bits.buffer, bits.byteOffset, bits.length);
  for (let j = 0; j < xs.length; j++) {
    const v = xs[j], g = got[j], want = OPS[op](v), wf = Math.fround(want);
    if (Number.isNaN(wf) || !Number.isFinite(wf) || wf === 0) {
      // exact results: NaN, overflow, an underflow to zero (or to the smallest denormal next to it)
      const ok = Number.isNaN(wf) ? Number.isNaN(g) : Object.is(g, wf) || (wf === 0 && Math.abs(g) <= 2 ** -149 && Math.sign(g) === Math.sign(want));
      if (!ok && err.wrong.length < 5) err.wrong.push(`${op}(${v}) = ${g}, want ${wf}`);
      continue;
    }
    const u = Math.abs(g - want) / ulpOf(wf);
    if (u > err.maxUlp) { err.maxUlp = u; err.at = v; }
    if (Math.abs(wf) >= 2 ** -126) err.maxRel = Math.max(err.maxRel, Math.abs(g - want) / Math.abs(want));
  }
}

/** Every float32 in [lo, hi) (same sign), as bit patterns. */
function every(lo: number, hi: number): Uint32Array {
  const b = (v: number) => new Uint32Array(new Float32Array([v]).buffer)[0];
  const [a, z] = lo < 0 ? [b(hi), b(lo)] : [b(lo), b(hi)];
  const out = new Uint32Array(z - a);
  for (let i = 0; i < out.length; i++) out[i] = a + i;
  return out;
}

/** Random bit patterns over the whole float32 line (every exponent, both signs, NaNs). */
function randomBits(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) out[i] = s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
  return out;
}

// the ranges where each function's reduction or special-casing changes: exp's whole
// denormal-result range and overflow edge, log around sqrt(1/2) and 1 and over the denormals,
// tanh across its 0.625 switch and its approach to 1
const DENSE: Record<Op, [number, number][]> = {
  exp: [[-104, -87.5], [88.5, 89], [0.25, 0.3], [-0.3, -0.25]],
  log: [[0.70, 0.72], [0.99, 1.01], [2 ** -149, 2 ** -132]],
  tanh: [[0.6, 0.65], [-0.65, -0.6], [1.0, 1.125], [8.5, 9.5]],
  // both sides of 0 (where the form switches), the approach to 1, and the tail down to denormals
  sigmoid: [[0.5, 0.52], [-0.52, -0.5], [2 ** -20, 2 ** -19.9], [-(2 ** -19.9), -(2 ** -20)], [15, 15.5], [-103, -102.5], [-87.6, -87.5], [-19.6, -19.5]],
};

for (const op of ['exp', 'log', 'tanh', 'sigmoid'] as const) {
  test(`${op}: within 2 ulp of ${op === 'sigmoid' ? "expr.ts's sigmoid (float64)" : `Math.${op}`} over dense ranges and random bit patterns, specials exact`, (t) => {
    if (!simd) return t.pass('no WebAssembly SIMD here');
    const err: Err = { maxUlp: 0, maxRel: 0, at: NaN, wrong: [] };
    let count = 0;
    for (const [lo, hi] of DENSE[op]) {
      const bits = every(lo, hi);
      measure(op, bits, runOp(op, bits), err);
      count += bits.length;
    }
    const rnd = randomBits(1_000_003, op.length * 7919);
    measure(op, rnd, runOp(op, rnd), err);
    count += rnd.length;
    t.log(`${op}: ${count} values, max error ${err.maxUlp.toFixed(3)} ulp (at ${err.at}), max relative error ${err.maxRel.toExponential(2)} over normal results`);
    t.deepEqual(err.wrong, []);
    t.true(err.maxUlp <= 2, `max ${err.maxUlp} ulp at ${err.at}`);
    t.true(err.maxRel <= 2 * 2 ** -23);
  });
}

test('specials: NaN, infinities, signed zeros, denormals and the overflow edges', (t) => {
  if (!simd) return t.pass('no WebAssembly SIMD here');
  const cases: [Op, number, number][] = [
    ['exp', NaN, NaN], ['exp', Infinity, Infinity], ['exp', -Infinity, 0], ['exp', 0, 1], ['exp', -0, 1],
    ['exp', 88.72283172607422, Math.fround(Math.exp(88.72283172607422))], ['exp', 88.7228393554688, Infinity],
    ['exp', 1e30, Infinity], ['exp', -1e30, 0], ['exp', -103.5, Math.fround(Math.exp(-103.5))], ['exp', 2 ** -149, 1],
    ['log', NaN, NaN], ['log', Infinity, Infinity], ['log', -Infinity, NaN], ['log', 0, -Infinity], ['log', -0, -Infinity],
    ['log', -1, NaN], ['log', -(2 ** -149), NaN], ['log', 1, 0], ['log', 2 ** -149, Math.fround(Math.log(2 ** -149))],
    ['log', 3.4028234663852886e38, Math.fround(Math.log(3.4028234663852886e38))],
    ['tanh', NaN, NaN], ['tanh', Infinity, 1], ['tanh', -Infinity, -1], ['tanh', 0, 0], ['tanh', -0, -0],
    ['tanh', 2 ** -149, 2 ** -149], ['tanh', -(2 ** -149), -(2 ** -149)], ['tanh', 2 ** -100, 2 ** -100], ['tanh', 50, 1], ['tanh', -50, -1],
    ['sigmoid', NaN, NaN], ['sigmoid', Infinity, 1], ['sigmoid', -Infinity, 0], ['sigmoid', 0, 0.5], ['sigmoid', -0, 0.5],
    ['sigmoid', 20, 1], ['sigmoid', 1e30, 1], ['sigmoid', -1e30, 0], ['sigmoid', -200, 0],
  ];
  for (const [op, v, want] of cases) {
    const got = runOp(op, new Uint32Array(new Float32Array([v]).buffer))[0];
    if (Number.isNaN(want)) t.true(Number.isNaN(got), `${op}(${v}) = ${got}`);
    else if (v === -103.5 || (op === 'log' && Number.isFinite(want) && v !== 1)) t.true(Math.abs(got - want) <= ulpOf(want), `${op}(${v}) = ${got}, want ${want}`);
    else t.true(Object.is(got, want), `${op}(${v}) = ${got}, want ${want}`);
  }
});

/** Chains the library runs all the time, forward and their derivatives, through the runtime. */
const sig = (e: Expr) => e.mul(0.5).tanh().mul(0.5).add(0.5);
const y = input(1), gy = input(2);
const CHAINS: [string, Expr][] = [
  ['B3', x.mul(y).add(0.25).tanh().mul(sig(x)).add(x.mul(x).mul(0.5))],
  ['softplus', x.exp().add(1).log()],
  ['gelu (tanh)', x.mul(0.5).mul(x.mul(x).mul(x).mul(0.044715).add(x).mul(0.7978845608).tanh().add(1))],
  ['swish', x.mul(sig(x.mul(y)))],
  ['log-sigmoid', sig(x).log()],
  ['B3 (sigmoid primitive)', x.mul(y).add(0.25).tanh().mul(x.sigmoid()).add(x.mul(x).mul(0.5))],
  // x alone inside: y (1 - y) near y = 1 is float32's 1 - y, ~6e-8 absolute, as in every framework's float32
  ['swish (sigmoid primitive)', x.mul(x.sigmoid())],
];

test('transcendental chains and their gradients run in wasm and match the JS loop, every layout and tail', (t) => {
  if (!simd) return t.pass('no WebAssembly SIMD here');
  const old = setWasmMinSize(0);
  try {
    for (const [name, e] of CHAINS) {
      const roots = [e, ...vjp(e, [0, 1], gy)];
      t.true(wasmRenders(roots), name);
      for (const [shape, shapes] of [[[1027], [[1027], [1027], [1027]]], [[5, 67], [[5, 67], [67], [5, 67]]], [[67, 5], [[67, 5], [67, 1], [67, 5]]], [[9], [[9], [], [9]]]] as [number[], number[][]][]) {
        let s = 7;
        const ins = shapes.map((sh) => {
          const n = sh.reduce((p, q) => p * q, 1);
          return new NDArray(Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 8 - 4), sh);
        });
        const runs = wasmElementwiseStats.count;
        const wasm = elementwise(roots, ins, [], shape, 'float32');
        t.is(wasmElementwiseStats.count, runs + 1, `${name} over ${shape} ran in wasm`);
        setWasm(false);
        const js = elementwise(roots, ins, [], shape, 'float32');
        setWasm(true);
        roots.forEach((_, j) => {
          const a = wasm[j].toFlat(), b = js[j].toFlat();
          for (let i = 0; i < b.length; i++) {
            if (!(Math.abs(a[i] - b[i]) <= 1e-6 + 1e-5 * Math.abs(b[i]))) {
              t.fail(`${name} root ${j} over ${shape} at ${i}: wasm ${a[i]}, JS ${b[i]}`);
              return;
            }
          }
        });
      }
    }
  } finally {
    setWasmMinSize(old);
    setWasm(true);
  }
});
