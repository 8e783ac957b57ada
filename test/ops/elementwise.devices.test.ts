// Arithmetic and activations on every device: float32 forward and gradients against the checked CPU run and plain JS.

import test from 'ava';
import { NDArray, Variable, array, F } from '../../runtime/index.js';
import { awayFromZero, checkOnDevices, on, plain, refBroadcast, sample, uniform, useDevices } from '../helpers.js';

const devices = await useDevices(test);

const grid = (shape: number[], seed: number, shift: number): NDArray =>
  sample(shape, seed, (r) => Math.floor(r.uniform() * 21 - 10) / 10 + shift);

/** Shape pairs with and without broadcasting, including a 0-d operand (as in arithmetic.test.ts). */
const PAIRS: [number[], number[]][] = [[[2, 3], [2, 3]], [[2, 3], [3]], [[3, 1], [1, 4]], [[2, 1, 3], [4, 1]], [[], [2, 2]]];

const expect2 = (ref: (a: number, b: number) => number, x: NDArray, y: NDArray) => [refBroadcast(ref, plain(x), plain(y)).data];
const expect1 = (ref: (a: number) => number, x: NDArray) => [Array.from(x.toFlat(), ref)];

// ---- binary ------------------------------------------------------------------------------

// One test per op, one literal checkOnDevices per op (the registry scans for it), pairs looped inside.
type Draw = (s: number[], k: number) => NDArray;
const eachPair = async (x: Draw, y: Draw, check: (a: NDArray, b: NDArray) => Promise<void>) => {
  for (const [k, [sx, sy]] of PAIRS.entries()) await check(x(sx, 10 + k), y(sy, 20 + k));
};
const u: Draw = (s, k) => uniform(s, k);

devices.each('add: forward and gradients over broadcasting shapes', async (t, device) => {
  await eachPair(u, u, (x, y) => checkOnDevices('add', (add) => (a, b) => add(a, b), [x, y], { device, expected: expect2((a, b) => a + b, x, y) }));
  t.pass();
});
devices.each('sub: forward and gradients over broadcasting shapes', async (t, device) => {
  await eachPair(u, u, (x, y) => checkOnDevices('sub', (sub) => (a, b) => sub(a, b), [x, y], { device, expected: expect2((a, b) => a - b, x, y) }));
  t.pass();
});
devices.each('mul: forward and gradients over broadcasting shapes', async (t, device) => {
  await eachPair(u, u, (x, y) => checkOnDevices('mul', (mul) => (a, b) => mul(a, b), [x, y], { device, expected: expect2((a, b) => a * b, x, y) }));
  t.pass();
});
devices.each('div: forward and gradients over broadcasting shapes', async (t, device) => {
  const y: Draw = (s, k) => awayFromZero(s, k, 0.5, 2);
  await eachPair(u, y, (a, b) => checkOnDevices('div', (div) => (p, q) => div(p, q), [a, b], { device, expected: expect2((p, q) => p / q, a, b) }));
  t.pass();
});
devices.each('pow: forward and gradients over broadcasting shapes, and number operands on either side', async (t, device) => {
  const x: Draw = (s, k) => uniform(s, k, 0.5, 2), y: Draw = (s, k) => uniform(s, k, -1.5, 1.5);
  await eachPair(x, y, (a, b) => checkOnDevices('pow', (pow) => (p, q) => pow(p, q), [a, b], { device, expected: expect2((p, q) => p ** q, a, b) }));
  const a = x([2, 3], 3), b = y([2, 3], 4);
  await checkOnDevices('pow', (pow) => (p) => pow(p, 3), [a], { device, expected: expect1((v) => v ** 3, a) });
  await checkOnDevices('pow', (pow) => (q) => pow(1.7, q), [b], { device, expected: expect1((v) => 1.7 ** v, b) });
  t.pass();
});
devices.each('maximum: forward and gradients over broadcasting shapes (no ties)', async (t, device) => {
  const x: Draw = (s, k) => grid(s, k, 0), y: Draw = (s, k) => grid(s, k, 0.05);
  await eachPair(x, y, (a, b) => checkOnDevices('maximum', (maximum) => (p, q) => maximum(p, q), [a, b], { device, expected: expect2(Math.max, a, b) }));
  t.pass();
});
devices.each('minimum: forward and gradients over broadcasting shapes (no ties)', async (t, device) => {
  const x: Draw = (s, k) => grid(s, k, 0), y: Draw = (s, k) => grid(s, k, 0.05);
  await eachPair(x, y, (a, b) => checkOnDevices('minimum', (minimum) => (p, q) => minimum(p, q), [a, b], { device, expected: expect2(Math.min, a, b) }));
  t.pass();
});

devices.each('binary ops: a number operand on either side stays on the device', async (t, device) => {
  const x = on(device, array([1, 2, 4]));
  const cases: [Variable, number[]][] = [
    [F.add(x, 2), [3, 4, 6]], [F.sub(10, x), [9, 8, 6]], [F.mul(x, -3), [-3, -6, -12]], [F.div(8, x), [8, 4, 2]],
    [F.pow(x, 2), [1, 4, 16]], [F.pow(2, x), [2, 4, 16]], [x.rsub(1), [0, -1, -3]], [x.rdiv(4), [4, 2, 1]],
  ];
  for (const [y, want] of cases) {
    t.is(y.data.device, device);
    t.is(y.dtype, 'float32');
    t.deepEqual(Array.from(await y.data.data()), want);
  }
});

devices.each('maximum/minimum: a tie sends the whole gradient to x', async (t, device) => {
  for (const op of ['maximum', 'minimum'] as const) {
    const x = on(device, array([1, 2])), y = on(device, array([1, 5]));
    F.sum(F[op](x, y)).backward();
    t.deepEqual(Array.from(await x.grad!.data()), op === 'maximum' ? [1, 0] : [1, 1]);
    t.deepEqual(Array.from(await y.grad!.data()), op === 'maximum' ? [0, 1] : [0, 0]);
  }
});

// ---- unary -------------------------------------------------------------------------------

const UNARY_SHAPES = [[], [5], [2, 3, 2]];
const eachShape = async (draw: Draw, check: (x: NDArray) => Promise<void>) => {
  for (const [k, s] of UNARY_SHAPES.entries()) await check(draw(s, 30 + k));
};

devices.each('neg: forward and gradients', async (t, device) => {
  await eachShape(u, (x) => checkOnDevices('neg', (neg) => (a) => neg(a), [x], { device, expected: expect1((v) => -v, x) }));
  t.pass();
});
devices.each('exp: forward and gradients', async (t, device) => {
  await eachShape((s, k) => uniform(s, k, -2, 2), (x) => checkOnDevices('exp', (exp) => (a) => exp(a), [x], { device, expected: expect1(Math.exp, x) }));
  t.pass();
});
devices.each('log: forward and gradients', async (t, device) => {
  await eachShape((s, k) => uniform(s, k, 0.3, 3), (x) => checkOnDevices('log', (log) => (a) => log(a), [x], { device, expected: expect1(Math.log, x) }));
  t.pass();
});
devices.each('sqrt: forward and gradients', async (t, device) => {
  await eachShape((s, k) => uniform(s, k, 0.3, 3), (x) => checkOnDevices('sqrt', (sqrt) => (a) => sqrt(a), [x], { device, expected: expect1(Math.sqrt, x) }));
  t.pass();
});
devices.each('abs: forward and gradients (inputs away from 0)', async (t, device) => {
  await eachShape((s, k) => awayFromZero(s, k), (x) => checkOnDevices('abs', (abs) => (a) => abs(a), [x], { device, expected: expect1(Math.abs, x) }));
  t.pass();
});

devices.each('exp, log, sqrt, abs, relu: known values and gradients at 0', async (t, device) => {
  const read = async (v: Variable) => Array.from(await v.data.data());
  t.deepEqual(await read(F.exp(on(device, array([0])))), [1]);
  t.deepEqual(await read(F.log(on(device, array([1, 0])))), [0, -Infinity]);
  t.deepEqual(await read(F.sqrt(on(device, array([0, 4, 9])))), [0, 2, 3]);
  t.true(Number.isNaN((await read(F.sqrt(on(device, array([-1])))))[0]));
  for (const [op, want] of [['abs', [0, -1, 1]], ['relu', [0, 0, 1]]] as const) {
    const x = on(device, array([0, -2, 3]));
    F.sum(F[op](x)).backward();
    t.deepEqual(Array.from(await x.grad!.data()), want, `${op}: gradient at 0 is 0`);
  }
});

// ---- clip and where ----------------------------------------------------------------------

devices.each('clip: forward and gradients (inputs away from the bounds)', async (t, device) => {
  for (const shape of [[7], [3, 4]]) {
    const x = grid(shape, 7, 0);
    await checkOnDevices('clip', (clip) => (a) => clip(a, -0.35, 0.45), [x], { device, expected: expect1((v) => Math.min(Math.max(v, -0.35), 0.45), x) });
  }
  t.pass();
});

devices.each('where: forward and gradients, an int32 condition moved along (no gradient to it)', async (t, device) => {
  const cases: [NDArray, NDArray, NDArray][] = [
    [array([1, 0, 1, 1, 0, 0], [2, 3], 'int32'), uniform([2, 3], 10), uniform([2, 3], 11)],
    [array([0, 1, 3], [3], 'int32'), uniform([2, 3], 12), uniform([2, 1], 13)],
  ];
  for (const [c, x, y] of cases) {
    const expected = [refBroadcast((cv, xv, yv) => (cv !== 0 ? xv : yv), plain(c), plain(x), plain(y)).data];
    await checkOnDevices('where', (where) => (cond, a, b) => where(cond, a, b), [c, x, y], { device, expected });
  }
  t.pass();
});

// ---- activations -------------------------------------------------------------------------

const sigmoidRef = (v: number) => 1 / (1 + Math.exp(-v));
const away: Draw = (s, k) => awayFromZero(s, k, 0.2, 3);

devices.each('relu: forward and gradients (inputs away from 0)', async (t, device) => {
  await eachShape(away, (x) => checkOnDevices('relu', (relu) => (a) => relu(a), [x], { device, expected: expect1((v) => (v > 0 ? v : 0), x) }));
  t.pass();
});
devices.each('leakyRelu: forward and gradients, default and explicit slope', async (t, device) => {
  await eachShape(away, (x) => checkOnDevices('leakyRelu', (leakyRelu) => (a) => leakyRelu(a), [x], { device, expected: expect1((v) => (v > 0 ? v : 0.2 * v), x) }));
  const x = away([8], 40);
  await checkOnDevices('leakyRelu', (leakyRelu) => (a) => leakyRelu(a, 0.05), [x], { device, expected: expect1((v) => (v > 0 ? v : 0.05 * v), x) });
  t.pass();
});
devices.each('sigmoid: forward and gradients', async (t, device) => {
  await eachShape((s, k) => uniform(s, k, -3, 3), (x) => checkOnDevices('sigmoid', (sigmoid) => (a) => sigmoid(a), [x], { device, expected: expect1(sigmoidRef, x) }));
  t.pass();
});
devices.each('tanh: forward and gradients', async (t, device) => {
  await eachShape((s, k) => uniform(s, k, -3, 3), (x) => checkOnDevices('tanh', (tanh) => (a) => tanh(a), [x], { device, expected: expect1(Math.tanh, x) }));
  t.pass();
});
devices.each('softplus: forward and gradients, default and explicit beta', async (t, device) => {
  await eachShape((s, k) => uniform(s, k, -3, 3), (x) => checkOnDevices('softplus', (softplus) => (a) => softplus(a), [x], { device, expected: expect1((v) => Math.log1p(Math.exp(v)), x) }));
  const x = uniform([8], 41, -2, 2);
  await checkOnDevices('softplus', (softplus) => (a) => softplus(a, 2.5), [x], { device, expected: expect1((v) => Math.log1p(Math.exp(2.5 * v)) / 2.5, x) });
  t.pass();
});
devices.each('elu: forward and gradients, default and explicit alpha', async (t, device) => {
  await eachShape(away, (x) => checkOnDevices('elu', (elu) => (a) => elu(a), [x], { device, expected: expect1((v) => (v > 0 ? v : Math.exp(v) - 1), x) }));
  const x = away([8], 42);
  await checkOnDevices('elu', (elu) => (a) => elu(a, 0.7), [x], { device, expected: expect1((v) => (v > 0 ? v : 0.7 * (Math.exp(v) - 1)), x) });
  t.pass();
});

devices.each('sigmoid, softplus, tanh, softmax: finite in both tails, gradients too', async (t, device) => {
  const x = array([-1000, -40, 40, 1000]);
  const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= 1e-6 + 1e-5 * Math.abs(b[i]));
  const ys = {
    sigmoid: [0, sigmoidRef(-40), 1, 1],
    softplus: [0, Math.log1p(Math.exp(-40)), 40, 1000],
    tanh: [-1, -1, 1, 1],
  };
  for (const op of ['sigmoid', 'softplus', 'tanh'] as const) {
    const v = on(device, x);
    const y = F[op](v);
    F.sum(y).backward();
    const got = Array.from(await y.data.data()), g = Array.from(await v.grad!.data());
    t.true(near(got, ys[op]), `${op}: ${got} != ${ys[op]}`);
    t.true(g.every(Number.isFinite), `${op}: gradient ${g}`);
  }
  const s = F.softmax(on(device, array([[1000, 1001, 999], [-1000, -1000, -1000]])));
  const e = Math.E, z = 1 + e + 1 / e;
  t.true(near(Array.from(await s.data.data()), [1 / z, e / z, 1 / e / z, 1 / 3, 1 / 3, 1 / 3]));
});

// ---- softmax family ----------------------------------------------------------------------

/** Plain-JS softmax (or log-softmax) along the last axis of a (rows, n) array. */
function refSoftmaxLast(x: NDArray, log: boolean): number[] {
  const n = x.shape[x.shape.length - 1], d = Array.from(x.toFlat()), out: number[] = [];
  for (let r = 0; r < d.length; r += n) {
    const row = d.slice(r, r + n), m = Math.max(...row), s = row.reduce((a, v) => a + Math.exp(v - m), 0);
    out.push(...row.map((v) => (log ? v - m - Math.log(s) : Math.exp(v - m) / s)));
  }
  return out;
}

const SOFTMAX_CASES: { shape: number[]; axis: number }[] = [
  { shape: [3, 4], axis: 1 }, { shape: [3, 4], axis: 0 }, { shape: [2, 3, 4], axis: 1 }, { shape: [2, 3, 4], axis: -1 },
];
const lastAxis = (c: { shape: number[]; axis: number }) => c.axis === -1 || c.axis === c.shape.length - 1;

devices.each('softmax: forward and gradients over shapes and axes', async (t, device) => {
  for (const [k, c] of SOFTMAX_CASES.entries()) {
    const x = uniform(c.shape, 70 + k, -3, 3);
    await checkOnDevices('softmax', (softmax) => (a) => softmax(a, c.axis), [x], { device, expected: lastAxis(c) ? [refSoftmaxLast(x, false)] : undefined });
  }
  t.pass();
});
devices.each('logSoftmax: forward and gradients over shapes and axes', async (t, device) => {
  for (const [k, c] of SOFTMAX_CASES.entries()) {
    const x = uniform(c.shape, 80 + k, -3, 3);
    await checkOnDevices('logSoftmax', (logSoftmax) => (a) => logSoftmax(a, c.axis), [x], { device, expected: lastAxis(c) ? [refSoftmaxLast(x, true)] : undefined });
  }
  t.pass();
});

devices.each('tanh: within 4e-7 relative of Math.tanh from 2^-40 to past its saturation, so tiny inputs keep their digits; -0, NaN and infinities exact', async (t, device) => {
  // lavapipe's own WGSL tanh is (e^x - e^-x) / (e^x + e^-x): at x = 1e-12 it was off by a
  // factor of 3e4. kusari's: on the CPU a polynomial below 0.625 and one exp above (1.1e-7 here),
  // in WGSL a rational function of x^2 with no exp (2.4e-7 here)
  const xs: number[] = [];
  for (let e = -40; e <= 5; e += 1 / 64) xs.push(2 ** e, -(2 ** e));
  const specials = [0, -0, NaN, Infinity, -Infinity, 44, -44, 100, 1e30, -1e30];
  xs.push(...specials);
  const y = F.tanh(on(device, array(xs, [xs.length])));
  const got = Array.from(await y.data.data());
  let maxRel = 0, at = 0;
  xs.forEach((v, i) => {
    const want = Math.fround(Math.tanh(Math.fround(v)));
    if (specials.includes(v) || Number.isNaN(v)) {
      t.true(Object.is(got[i], want), `tanh(${Object.is(v, -0) ? '-0' : v}) = ${got[i]}, want ${want}`);
      return;
    }
    const rel = Math.abs(got[i] - want) / Math.abs(want);
    if (rel > maxRel) { maxRel = rel; at = v; }
  });
  t.log(`${device}: max relative error ${maxRel.toExponential(2)} at ${at}`);
  t.true(maxRel <= 4e-7, `tanh's max relative error ${maxRel} (at ${at}), want <= 4e-7`);
});

devices.each('sigmoid: the far-negative tail follows e^x in float32 with a finite gradient; NaN stays NaN, infinities give 1 and 0', async (t, device) => {
  // the old 0.5 tanh(x/2) + 0.5 form reached 0 by x = -17 (1 - 1 in float32), and a kernel
  // written as 1 / (1 + e^-x) overflows e^-x past x = -88
  const xs = [-100, -87, -60, -30, -17, -5, 0, 5, 17, 30, NaN, Infinity, -Infinity];
  const rtol = (v: number) => (3 + 2 * Math.abs(v)) * 2 ** -23 + 1e-6;
  const x = on(device, array(xs, [xs.length]));
  const y = F.sigmoid(x);
  F.sum(y).backward();
  const got = Array.from(await y.data.data()), g = Array.from(await x.grad!.data());
  xs.forEach((v, i) => {
    const want = Math.fround(v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));
    if (Number.isNaN(v)) t.true(Number.isNaN(got[i]) && Number.isNaN(g[i]), `sigmoid(NaN) = ${got[i]}, gradient ${g[i]}`);
    // float32: e^-100 = 3.7e-44 is a denormal (a GPU may flush it to 0), so an absolute bound at
    // the bottom; WGSL allows exp an error of 3 + 2|x| ulp (lavapipe's is 2.6e-6 relative at -60)
    else t.true(got[i] === want || Math.abs(got[i] - want) <= rtol(v) * want + 1e-37, `sigmoid(${v}) = ${got[i]}, want ${want}`);
  });
  for (const [i, v] of xs.entries()) {
    if (Number.isNaN(v)) continue;
    const s = 1 / (1 + Math.exp(-v)), want = s * (1 - s);
    // y (1 - y) is read from the float32 output: past x = 16, 1 - y is float32's spacing below 1 (or 0)
    if (v > 15) { t.true(Number.isFinite(g[i]) && Math.abs(g[i] - want) <= 2 ** -24, `sigmoid'(${v}) = ${g[i]}, want ${want}`); continue; }
    t.true(Number.isFinite(g[i]) && (g[i] === want || Math.abs(g[i] - want) <= 2 * rtol(v) * want + 1e-37), `sigmoid'(${v}) = ${g[i]}, want ${want}`);
  }
  t.is(got[xs.indexOf(Infinity)], 1);
  t.is(got[xs.indexOf(-Infinity)], 0);
});
