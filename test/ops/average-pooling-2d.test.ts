// averagePooling2d: forward against loops written from the definition (Chainer's divisor), gradients, bad inputs, both devices.

import test from 'ava';
import { NDArray, RandomState, array, F } from '../../runtime/index.js';
import { allclose, checkOnDevices, checkOpBackward, checkOpDoubleBackward, on, uniform, useDevices } from '../helpers.js';
import { refAvgPool } from './references.js';

const devices = await useDevices(test);

interface Pool { ksize: [number, number]; stride: [number, number]; pad: [number, number] }
/** The options object: ksize is an argument of its own (an unknown option is refused). */
const optsOf = ({ ksize: _, ...rest }: Pool) => rest;

function randomCases(count: number, seed: number): { xs: number[]; pool: Pool }[] {
  const rng = new RandomState(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rng.uniform() * (hi - lo + 1));
  const cases = [];
  while (cases.length < count) {
    const ksize: [number, number] = [int(1, 3), int(1, 3)];
    const pool: Pool = { ksize, stride: [int(1, 3), int(1, 3)], pad: [int(0, ksize[0] - 1), int(0, ksize[1] - 1)] };
    const xs = [int(1, 2), int(1, 3), int(2, 7), int(2, 7)];
    if (xs[2] + 2 * pool.pad[0] < ksize[0] || xs[3] + 2 * pool.pad[1] < ksize[1]) continue;
    cases.push({ xs, pool });
  }
  return cases;
}

const CASES = randomCases(12, 5);

test('averagePooling2d: forward equals the definition over random ksize, stride and pad (float64)', (t) => {
  CASES.forEach(({ xs, pool }, k) => {
    const x = uniform(xs, 10 + k);
    const y = F.averagePooling2d(x, pool.ksize, optsOf(pool));
    const ref = refAvgPool(x, pool);
    t.deepEqual(y.shape, ref.shape, `case ${k} ${JSON.stringify(pool)}`);
    allclose(t, y.data, ref.data, { atol: 1e-12, rtol: 1e-5 });
  });
});

test("averagePooling2d: padded cells count in the divisor (Chainer's rule); stride defaults to ksize", (t) => {
  const ones = array(new Float64Array(16).fill(1), [1, 1, 4, 4]);
  // the corner window holds one real cell and three padded ones: 1/4, not 1
  t.is(F.averagePooling2d(ones, 2, { pad: 1 }).data.toFlat()[0], 0.25);
  t.deepEqual(F.averagePooling2d(ones, 2).shape, [1, 1, 2, 2]);
});

test('averagePooling2d: gradients and double backward match numerical ones (float64)', (t) => {
  CASES.slice(0, 8).forEach(({ xs, pool }, k) => {
    checkOpBackward('averagePooling2d', (averagePooling2d) => (x) => averagePooling2d(x, pool.ksize, optsOf(pool)), [uniform(xs, 100 + k)]);
  });
  const { xs, pool } = CASES[0];
  const x = uniform(xs, 200);
  checkOpDoubleBackward('averagePooling2d', (averagePooling2d) => (a) => F.mul(averagePooling2d(a, pool.ksize, optsOf(pool)), averagePooling2d(a, pool.ksize, optsOf(pool))), [x], [uniform(refAvgPool(x, pool).shape, 201)]);
  t.pass();
});

test('averagePooling2d: bad inputs name the op, the argument, and expected vs seen', (t) => {
  const x = uniform([2, 3, 4, 4], 1);
  t.throws(() => F.averagePooling2d(uniform([3, 4, 4], 1), 2), { message: 'averagePooling2d: x must be 4-D (N, C, H, W), got x (3, 4, 4)' });
  t.throws(() => F.averagePooling2d(x, [2, 0]), { message: 'averagePooling2d: ksize must be an integer >= 1 or a pair of them, got [2,0]' });
  t.throws(() => F.averagePooling2d(x, 2, { pad: -1 }), { message: 'averagePooling2d: pad must be an integer >= 0 or a pair of them, got -1' });
  t.throws(() => F.averagePooling2d(x, 5), { message: 'averagePooling2d: x (2, 3, 4, 4) with ksize (5, 5), stride (5, 5), pad (0, 0) gives an empty output (2, 3, 0, 0)' });
  t.throws(() => F.averagePooling2d(array([1], [1, 1, 1, 1], 'int32'), 1), { message: 'averagePooling2d: expected a float array, got x int32' });
});

devices.each('averagePooling2d: forward and gradient equal the CPU over random geometries', async (t, device) => {
  for (const [k, { xs, pool }] of CASES.entries()) {
    const x = uniform(xs, 300 + k);
    await checkOnDevices('averagePooling2d', (averagePooling2d) => (p) => averagePooling2d(p, pool.ksize, optsOf(pool)), [x], { device, expected: [refAvgPool(x, pool).data] });
  }
  t.pass();
});

// Found by the property test (test/properties): options are checked by name before any work, on both devices.
devices.each('averagePooling2d: an unknown option or options that are not an object are named, not ignored', (t, device) => {
  const x = on(device, uniform([1, 1, 2, 2], 1));
  t.throws(() => F.averagePooling2d(x, 1, { strides: 1 } as never), { message: "averagePooling2d: unknown option 'strides'; the options are stride, pad" });
  t.throws(() => F.averagePooling2d(x, 1, 'x' as never), { message: "averagePooling2d: options must be an object, got 'x'" });
  t.throws(() => F.averagePooling2d(x, 1, null as never), { message: 'averagePooling2d: options must be an object, got null' });
});
