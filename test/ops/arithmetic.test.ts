// Arithmetic ops (add ... where): forward against plain-JS loops, gradient checks, bad inputs.

import test from 'ava';
import { NDArray, Variable, array, F } from '../../runtime/index.js';
import {
  allclose, awayFromZero, checkOpBackward, plain, product, refBroadcast, sample, uniform,
} from '../helpers.js';

/** Shape pairs with and without broadcasting, including a 0-d operand. */
const PAIRS: [number[], number[]][] = [
  [[2, 3], [2, 3]],
  [[2, 3], [3]],
  [[3, 1], [1, 4]],
  [[2, 1, 3], [4, 1]],
  [[], [2, 2]],
];

type Binary = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum';
const BINARY: { [K in Binary]: { ref: (a: number, b: number) => number; x: (s: number[], seed: number) => NDArray; y: (s: number[], seed: number) => NDArray } } = {
  add: { ref: (a, b) => a + b, x: (s, k) => uniform(s, k), y: (s, k) => uniform(s, k) },
  sub: { ref: (a, b) => a - b, x: (s, k) => uniform(s, k), y: (s, k) => uniform(s, k) },
  mul: { ref: (a, b) => a * b, x: (s, k) => uniform(s, k), y: (s, k) => uniform(s, k) },
  div: { ref: (a, b) => a / b, x: (s, k) => uniform(s, k), y: (s, k) => awayFromZero(s, k, 0.5, 2) },
  pow: { ref: (a, b) => a ** b, x: (s, k) => uniform(s, k, 0.5, 2), y: (s, k) => uniform(s, k, -1.5, 1.5) },
  // x on a grid of multiples of 0.1, y on the grid shifted by 0.05: never within 0.05 of a tie
  maximum: { ref: Math.max, x: (s, k) => grid(s, k, 0), y: (s, k) => grid(s, k, 0.05) },
  minimum: { ref: Math.min, x: (s, k) => grid(s, k, 0), y: (s, k) => grid(s, k, 0.05) },
};

function grid(shape: number[], seed: number, shift: number): NDArray {
  return sample(shape, seed, (r) => Math.floor(r.uniform() * 21 - 10) / 10 + shift);
}

for (const { op, pair, dtype } of product({ op: Object.keys(BINARY) as Binary[], pair: PAIRS, dtype: ['float32', 'float64'] as const })) {
  test(`${op}: forward matches a plain-JS broadcast, x ${pair[0]} y ${pair[1]} ${dtype}`, (t) => {
    const { ref, x: drawX, y: drawY } = BINARY[op];
    const x = drawX(pair[0], 1), y = drawY(pair[1], 2);
    const xd = new NDArray(dtype === 'float32' ? new Float32Array(x.toFlat()) : x.toFlat(), x.shape);
    const yd = new NDArray(dtype === 'float32' ? new Float32Array(y.toFlat()) : y.toFlat(), y.shape);
    const z = F[op](new Variable(xd), new Variable(yd));
    const expected = refBroadcast(ref, plain(xd), plain(yd));
    t.deepEqual(z.shape, expected.shape);
    t.is(z.dtype, dtype);
    allclose(t, z.data, expected.data, dtype === 'float32' ? { atol: 1e-6, rtol: 1e-5 } : { atol: 1e-12, rtol: 1e-12 });
  });
}

test('binary ops: a number operand is broadcast as a scalar on either side', (t) => {
  const x = new Variable(array([1, 2, 4], [3], 'float64'));
  allclose(t, F.add(x, 2).data, [3, 4, 6]);
  allclose(t, F.sub(10, x).data, [9, 8, 6]);
  allclose(t, F.mul(x, -3).data, [-3, -6, -12]);
  allclose(t, F.div(8, x).data, [8, 4, 2]);
  allclose(t, F.pow(x, 2).data, [1, 4, 16]);
  allclose(t, F.pow(2, x).data, [2, 4, 16]);
  allclose(t, x.rsub(1).data, [0, -1, -3]);
  allclose(t, x.rdiv(4).data, [4, 2, 1]);
  t.is(F.add(x, 2).dtype, 'float64');
});

// One literal checkOpBackward per op (the registry test scans for it), shapes looped inside.
const checkBinary = (op: Binary, check: (x: NDArray, y: NDArray) => void) => {
  PAIRS.forEach(([sx, sy], k) => check(BINARY[op].x(sx, 10 + k), BINARY[op].y(sy, 20 + k)));
};

test('add: checkBackward over broadcasting shapes', (t) => {
  checkBinary('add', (x, y) => checkOpBackward('add', (add) => (a, b) => add(a, b), [x, y]));
  t.pass();
});
test('sub: checkBackward over broadcasting shapes', (t) => {
  checkBinary('sub', (x, y) => checkOpBackward('sub', (sub) => (a, b) => sub(a, b), [x, y]));
  t.pass();
});
test('mul: checkBackward over broadcasting shapes', (t) => {
  checkBinary('mul', (x, y) => checkOpBackward('mul', (mul) => (a, b) => mul(a, b), [x, y]));
  t.pass();
});
test('div: checkBackward over broadcasting shapes', (t) => {
  checkBinary('div', (x, y) => checkOpBackward('div', (div) => (a, b) => div(a, b), [x, y]));
  t.pass();
});
test('pow: checkBackward over broadcasting shapes, and with a number exponent', (t) => {
  checkBinary('pow', (x, y) => checkOpBackward('pow', (pow) => (a, b) => pow(a, b), [x, y]));
  checkOpBackward('pow', (pow) => (a) => pow(a, 3), [uniform([2, 3], 3, 0.5, 2)]);
  checkOpBackward('pow', (pow) => (b) => pow(1.7, b), [uniform([2, 3], 4)]);
  t.pass();
});
test('maximum: checkBackward over broadcasting shapes', (t) => {
  checkBinary('maximum', (x, y) => checkOpBackward('maximum', (maximum) => (a, b) => maximum(a, b), [x, y]));
  t.pass();
});
test('minimum: checkBackward over broadcasting shapes', (t) => {
  checkBinary('minimum', (x, y) => checkOpBackward('minimum', (minimum) => (a, b) => minimum(a, b), [x, y]));
  t.pass();
});

test('maximum/minimum: a tie sends the whole gradient to x, as in Chainer', (t) => {
  for (const op of ['maximum', 'minimum'] as const) {
    const x = new Variable(array([1, 2], [2], 'float64')), y = new Variable(array([1, 5], [2], 'float64'));
    F.sum(F[op](x, y)).backward();
    t.deepEqual(Array.from(x.grad!.toFlat()), op === 'maximum' ? [1, 0] : [1, 1]);
    t.deepEqual(Array.from(y.grad!.toFlat()), op === 'maximum' ? [0, 1] : [0, 0]);
  }
});

// ---- unary -------------------------------------------------------------------------------

type Unary = 'neg' | 'exp' | 'log' | 'sqrt' | 'abs';
const UNARY: { [K in Unary]: { ref: (a: number) => number; x: (s: number[], seed: number) => NDArray } } = {
  neg: { ref: (a) => -a, x: (s, k) => uniform(s, k) },
  exp: { ref: Math.exp, x: (s, k) => uniform(s, k, -2, 2) },
  log: { ref: Math.log, x: (s, k) => uniform(s, k, 0.3, 3) },
  sqrt: { ref: Math.sqrt, x: (s, k) => uniform(s, k, 0.3, 3) },
  abs: { ref: Math.abs, x: (s, k) => awayFromZero(s, k) },
};
const UNARY_SHAPES = [[], [5], [2, 3, 2]];

for (const { op, shape } of product({ op: Object.keys(UNARY) as Unary[], shape: UNARY_SHAPES })) {
  test(`${op}: forward matches Math, shape (${shape})`, (t) => {
    const x = UNARY[op].x(shape, 5);
    const y = F[op](x);
    t.deepEqual(y.shape, shape);
    t.is(y.dtype, 'float64');
    allclose(t, y.data, Array.from(x.toFlat(), UNARY[op].ref), { atol: 1e-12, rtol: 1e-12 });
  });
}

test('exp, log, sqrt, abs, neg: known values', (t) => {
  allclose(t, F.exp(array([0, 1])).data, [1, Math.E]);
  allclose(t, F.log(array([1, Math.E, 0])).data, [0, 1, -Infinity]);
  allclose(t, F.sqrt(array([0, 4, 9])).data, [0, 2, 3]);
  allclose(t, F.abs(array([-2, 0, 3])).data, [2, 0, 3]);
  allclose(t, F.neg(array([-2, 0, 3])).data, [2, -0, -3]);
  t.true(Number.isNaN(F.sqrt(array([-1])).data.toFlat()[0]));
});

const checkUnary = (op: Unary, check: (x: NDArray) => void) => UNARY_SHAPES.forEach((s, k) => check(UNARY[op].x(s, 30 + k)));
test('neg: checkBackward', (t) => { checkUnary('neg', (x) => checkOpBackward('neg', (neg) => (a) => neg(a), [x])); t.pass(); });
test('exp: checkBackward', (t) => { checkUnary('exp', (x) => checkOpBackward('exp', (exp) => (a) => exp(a), [x])); t.pass(); });
test('log: checkBackward', (t) => { checkUnary('log', (x) => checkOpBackward('log', (log) => (a) => log(a), [x])); t.pass(); });
test('sqrt: checkBackward', (t) => { checkUnary('sqrt', (x) => checkOpBackward('sqrt', (sqrt) => (a) => sqrt(a), [x])); t.pass(); });
test('abs: checkBackward (inputs away from 0)', (t) => { checkUnary('abs', (x) => checkOpBackward('abs', (abs) => (a) => abs(a), [x])); t.pass(); });

test('abs: gradient at exactly 0 is 0', (t) => {
  const x = new Variable(array([0, -2, 3], [3], 'float64'));
  F.sum(F.abs(x)).backward();
  t.deepEqual(Array.from(x.grad!.toFlat()), [0, -1, 1]);
});

// ---- clip and where ----------------------------------------------------------------------

test('clip: forward matches min(max(x, lo), hi)', (t) => {
  const x = uniform([3, 4], 6, -2, 2);
  const y = F.clip(x, -0.5, 0.75);
  allclose(t, y.data, Array.from(x.toFlat(), (v) => Math.min(Math.max(v, -0.5), 0.75)), { atol: 0, rtol: 0 });
  allclose(t, F.clip(array([-3, 0.2, 3]), 0, 1).data, [0, 0.2, 1]);
});

test('clip: checkBackward (inputs away from the bounds; gradient 0 outside)', (t) => {
  // grid of multiples of 0.1 against bounds at odd multiples of 0.05: no input within 0.05 of a bound
  for (const shape of [[7], [3, 4]]) {
    const x = sample(shape, 7, (r) => Math.floor(r.uniform() * 21 - 10) / 10);
    checkOpBackward('clip', (clip) => (a) => clip(a, -0.35, 0.45), [x]);
  }
  const x = new Variable(array([-1, 0, 1], [3], 'float64'));
  F.sum(F.clip(x, -0.5, 0.5)).backward();
  t.deepEqual(Array.from(x.grad!.toFlat()), [0, 1, 0]);
});

test('where: forward picks x where the condition is non-zero, with broadcasting', (t) => {
  const c = array([1, 0, 3], [3], 'int32');
  const x = uniform([2, 3], 8), y = uniform([2, 1], 9);
  const z = F.where(c, x, y);
  const expected = refBroadcast((cv, xv, yv) => (cv !== 0 ? xv : yv), plain(c), plain(x), plain(y));
  t.deepEqual(z.shape, [2, 3]);
  allclose(t, z.data, expected.data, { atol: 0, rtol: 0 });
  // a float condition works the same way
  allclose(t, F.where(array([0.5, 0]), array([1, 2]), array([3, 4])).data, [1, 4]);
});

test('where: checkBackward (no gradient to the int32 condition)', (t) => {
  const c = array([1, 0, 1, 1, 0, 0], [2, 3], 'int32');
  checkOpBackward('where', (where) => (cond, a, b) => where(cond, a, b), [c, uniform([2, 3], 10), uniform([2, 3], 11)]);
  checkOpBackward('where', (where) => (cond, a, b) => where(cond, a, b), [array([0, 1, 1], [3], 'int32'), uniform([2, 3], 12), uniform([2, 1], 13)]);
  t.pass();
});

// ---- bad inputs --------------------------------------------------------------------------

for (const op of Object.keys(BINARY) as Binary[]) {
  test(`${op}: bad input, shapes that do not broadcast name the op, both arguments and shapes`, (t) => {
    const x = new Variable(array([[1, 2, 3], [4, 5, 6]])), y = new Variable(array([1, 2, 3, 4]));
    t.throws(() => F[op](x, y), { message: new RegExp(`^${op}: shapes do not broadcast: x \\(2, 3\\), y \\(4,\\)$`) });
  });
  test(`${op}: bad input, mixed float dtypes are refused by name`, (t) => {
    const x = array([1, 2], [2], 'float32'), y = array([1, 2], [2], 'float64');
    t.throws(() => F[op](x, y), { message: new RegExp(`^${op}: inputs mix float dtypes \\(x float32, y float64\\)`) });
  });
}

for (const op of Object.keys(UNARY) as Unary[]) {
  test(`${op}: bad input, a JS array or a wrong argument count is refused by name`, (t) => {
    t.throws(() => F[op]([1, 2] as never), { message: new RegExp(`^${op}: argument x must be a Variable, NDArray or number, got a JS array`) });
    // exact signatures: the call below is a type error, so plain JS is what can still make it
    const untyped = F[op] as (...args: unknown[]) => unknown;
    t.throws(() => untyped(array([1]), array([2])), { message: new RegExp(`^${op}: expected 1 argument\\(s\\) \\(x\\), got 2$`) });
  });
}

test('clip: bad input, xMin above xMax or a non-array x', (t) => {
  t.throws(() => F.clip(array([1]), 1, 0), { message: /^clip: xMin \(1\) must not exceed xMax \(0\)$/ });
  t.throws(() => F.clip('x' as never, 0, 1), { message: /^clip: argument x must be a Variable, NDArray or number, got string/ });
});

test('where: bad input, shapes that do not broadcast name every argument', (t) => {
  t.throws(() => F.where(array([1, 0], [2], 'int32'), array([1, 2, 3]), array([1])), {
    message: /^where: shapes do not broadcast: condition \(2,\), x \(3,\), y \(1,\)$/,
  });
});
