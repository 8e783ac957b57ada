// Shape-polymorphic WGSL elementwise kernels: one set of pipelines per chain serves every shape, rank and broadcast.

import test from 'ava';
import { input, scalar, type Expr } from '../../compiler/expr.js';
import { vjp } from '../../compiler/grad.js';
import { backendOf, dispatchStats } from '../../runtime/array/backend.js';
import { NDArray } from '../../runtime/array/ndarray.js';
import { elementwise } from '../../runtime/array/xp.js';
import { planStats } from '../../runtime/array/webgpu/backend.js';
import { pipelineStats } from '../../runtime/array/webgpu/pipelines.js';
import { allclose, countKernels, uniform as uniform64, useDevices } from '../helpers.js';

/** Seeded float32 values in [lo, hi). */
const uniform = (shape: readonly number[], seed: number, lo = -1, hi = 1): NDArray =>
  new NDArray(Float32Array.from(uniform64(shape, seed, lo, hi).toFlat()), shape);

// serial: the pipeline count must not see another test's kernels
const devices = await useDevices(test.serial);

const x = input(0), a = input(1), b = input(2);
// B3's chain: tanh(x*a + b) * sigmoid(x) + x*x*0.5, with sigmoid as 1 / (1 + exp(-x))
const B3 = x.mul(a).add(b).tanh().mul(x.neg().exp().add(1).pow(-1)).add(x.mul(x).mul(0.5));

/** Shapes of (x, a, b) and what each call exercises. */
const CALLS: { what: string; shapes: [number[], number[], number[]] }[] = [
  { what: 'contiguous 1-D, length not a multiple of 4 (vec4 body, the last vec4 stored lane by lane)', shapes: [[1027], [1027], [1027]] },
  { what: 'rank 2, a bias row and a per-row scale', shapes: [[7, 13], [7, 1], [13]] },
  { what: 'rank 3, a scalar-shaped a', shapes: [[3, 5, 9], [], [5, 1]] },
  { what: 'rank 6, broadcast on alternating axes', shapes: [[2, 3, 1, 4, 2, 5], [1, 3, 1, 4, 1, 5], [2, 1, 1, 1, 2, 1]] },
  { what: 'rank 0', shapes: [[], [], []] },
  // the strided kernel works in runs of STRIDED_RUN (64) along the innermost dim: one run and a bit, two runs exactly, many rows of a short one
  { what: 'rank 2, an innermost dim of 65 (a run and one element), a bias row', shapes: [[5, 65], [65], [5, 1]] },
  { what: 'rank 3, an innermost dim of two whole runs, broadcast in the middle', shapes: [[3, 4, 128], [3, 1, 128], [4, 1]] },
  { what: 'rank 2, 300 rows of 3, a per-row scale', shapes: [[300, 3], [300, 1], [3]] },
  { what: 'contiguous with a broadcast scalar (stride 0 on the flat path)', shapes: [[4096], [1], [4096]] },
  // long enough that the launch splits the items into blocks over the most workgroups it uses
  // (on a software adapter, a few; on a GPU, many), and uneven, so the last block is partial
  { what: 'contiguous, 300,001 elements (vec4 blocks, a partial last vec4)', shapes: [[300001], [300001], [300001]] },
  { what: 'contiguous, 200,003 elements with a broadcast scalar (scalar blocks)', shapes: [[200003], [1], [200003]] },
  { what: 'rank 2, 1000 rows of 301, a bias row (blocks of runs)', shapes: [[1000, 301], [301], [1000, 1]] },
];

devices.gpu('a chain\'s pipelines, precompiled once, serve calls of every shape, rank and broadcast pattern with no further creation', async (t) => {
  const made = await backendOf('webgpu').precompile([B3], ['float32', 'float32', 'float32'], ['float32']);
  t.is(made, 3, 'the flat4 (vec4 bindings), flat and strided variants');
  t.is(await backendOf('webgpu').precompile([B3], ['float32', 'float32', 'float32'], ['float32']), 0, 'a second precompile makes nothing');
  const before = pipelineStats.created;
  let seed = 1;
  for (const c of CALLS) {
    const cpu = c.shapes.map((s) => uniform(s, seed++, -2, 2));
    const gpu = cpu.map((v) => v.toGpu());
    let y: NDArray[] = [];
    t.is(countKernels(() => (y = elementwise([B3], gpu))), 1, c.what);
    const ref = elementwise([B3], cpu)[0];
    t.deepEqual(y[0].shape, ref.shape, c.what);
    allclose(t, await y[0].data(), ref.toFlat(), { atol: 1e-5, rtol: 1e-4 });
  }
  t.is(pipelineStats.created - before, 0, `${CALLS.length} calls of different shapes created pipelines`);
});

devices.gpu('views: transposed and offset inputs run on the strided and flat pipelines and match the CPU', async (t) => {
  // 1280 elements: views of 1039 are long enough for the vec4 kernel (from 1024 elements)
  const base = uniform([40, 32], 7), gbase = base.toGpu();
  const ra = uniform([1], 8), rb = uniform([32, 40], 9);
  const got = elementwise([B3], [gbase.transpose(), ra.toGpu(), rb.toGpu()])[0];
  allclose(t, await got.data(), elementwise([B3], [base.transpose(), ra, rb])[0].toFlat(), { atol: 1e-5, rtol: 1e-4 });
  // contiguous views at offsets 8 (16-byte aligned: the flat4 kernel) and 3 (not: the flat one)
  for (const offset of [8, 3]) {
    const off = (v: NDArray) => v.view([1039], [1], offset);
    const rc = uniform([1039], 10 + offset);
    const got2 = elementwise([B3], [off(gbase), ra.toGpu(), rc.toGpu()])[0];
    allclose(t, await got2.data(), elementwise([B3], [off(base), ra, rc])[0].toFlat(), { atol: 1e-5, rtol: 1e-4 });
  }
});

devices.gpu('the vec4 path keeps NumPy\'s NaN, division and comparison rules lane by lane', async (t) => {
  const vals = [0, -0, 1, -1, NaN, Infinity, -Infinity, 2.5, 0, 3, NaN, -7, 1e-30, 5, 6];
  const other = [0, 0, 0, 2, 1, 0, -1, NaN, -0, 3, NaN, 7, 0, -5, 6];
  const roots: Expr[] = [
    x.div(a), x.max(a), x.min(a), x.pow(a), x.tanh(), x.lt(a).add(x.eq(a)), x.gt(a).mul(scalar(0)).add(x.sqrt()),
  ];
  // repeated to 1035 elements: the vec4 kernel runs from 1024 elements, and 1035 ends in a partial vec4
  const tile = (v: number[]) => Float32Array.from({ length: 69 * v.length }, (_, i) => v[i % v.length]);
  const cx = new NDArray(tile(vals), [69 * vals.length]), ca = new NDArray(tile(other), [69 * other.length]);
  const got = elementwise(roots, [cx.toGpu(), ca.toGpu()], [3]);
  const ref = elementwise(roots, [cx, ca], [3]);
  for (let j = 0; j < roots.length; j++) allclose(t, await got[j].data(), ref[j].toFlat(), { atol: 1e-6, rtol: 1e-5 });
});

devices.gpu('pow\'s special cases are Math.pow\'s on the scalar and vec4 kernels, a NaN exponent of a zero base included', async (t) => {
  const pairs = [[0, NaN], [-0, NaN], [1, NaN], [NaN, 0], [0, 0], [0, -1], [-0, -3], [0, 2], [-8, 1 / 3], [-2, 3], [-2, -2], [Infinity, -1], [-Infinity, 3], [2, 0.5]];
  for (const n of [pairs.length, 1024 + pairs.length]) { // below and above the vec4 kernel's threshold
    const base = Float32Array.from({ length: n }, (_, i) => pairs[i % pairs.length][0]);
    const exp = Float32Array.from({ length: n }, (_, i) => pairs[i % pairs.length][1]);
    const got = await elementwise([x.pow(a)], [new NDArray(base, [n]).toGpu(), new NDArray(exp, [n]).toGpu()])[0].data();
    allclose(t, got, Array.from(base, (v, i) => Math.fround(Math.pow(v, exp[i]))), { atol: 0, rtol: 1e-6 });
  }
});

devices.gpu('int32 arithmetic stays exact and wrapping on the flat and strided pipelines', async (t) => {
  const big = new NDArray(Int32Array.from([2 ** 30, 2 ** 31 - 1, -(2 ** 31), 123456789, 16777217]), [5]);
  const two = new NDArray(Int32Array.from([3]), [1]);
  const roots = [x.mul(a).add(x)];
  const flat = await elementwise(roots, [big.toGpu(), two.toGpu()])[0].data();
  t.deepEqual(Array.from(flat), Array.from(elementwise(roots, [big, two])[0].toFlat()));
  const m = new NDArray(Int32Array.from([16777217, 5, -3, 2 ** 30, 7, 9]), [2, 3]);
  const col = new NDArray(Int32Array.from([3, -1]), [2, 1]);
  const strided = await elementwise(roots, [m.toGpu(), col.toGpu()])[0].data();
  t.deepEqual(Array.from(strided), Array.from(elementwise(roots, [m, col])[0].toFlat()));
});

devices.gpu('every WebGPU launch counts in dispatchStats, as CPU loops do', (t) => {
  const v = uniform([64, 64], 3).toGpu();
  const before = dispatchStats.count;
  elementwise([x.exp(), x.neg()], [v]);
  t.is(dispatchStats.count - before, 1);
});

devices.each('reduceTo: broadcast-input gradients summed in the same call, 1 elementwise dispatch + 1 reduction each', async (t, device) => {
  // the backward of B3 for a bias row a [1, 9] and a per-row b [5, 1] over x [5, 9]
  const [dx, da, db] = vjp(B3, [0, 1, 2], input(3));
  const vals = [uniform([5, 9], 21), uniform([1, 9], 22), uniform([5, 1], 23), uniform([5, 9], 24)];
  const ins = device === 'cpu' ? vals : vals.map((v) => v.toGpu());
  const be = backendOf(device);
  let out: NDArray[] = [];
  const n = countKernels(() => (out = be.elementwise([dx, da, db], ins, [], [5, 9], 'float32', undefined, [null, [1, 9], [5, 1]])));
  t.is(n, 3, 'one elementwise dispatch and one reduction for each of the two broadcast inputs');
  t.deepEqual(out.map((o) => o.shape), [[5, 9], [1, 9], [5, 1]]);
  // reference: full-size gradients summed by hand in plain JS
  const full = be.elementwise([da, db], ins, [], [5, 9], 'float32');
  const fa = Array.from(await full[0].data()), fb = Array.from(await full[1].data());
  const wantA = Array.from({ length: 9 }, (_, j) => [0, 1, 2, 3, 4].reduce((s, i) => s + fa[i * 9 + j], 0));
  const wantB = Array.from({ length: 5 }, (_, i) => fb.slice(i * 9, i * 9 + 9).reduce((s, v) => s + v, 0));
  allclose(t, await out[1].data(), wantA, { atol: 1e-5, rtol: 1e-4 });
  allclose(t, await out[2].data(), wantB, { atol: 1e-5, rtol: 1e-4 });
  t.throws(() => be.elementwise([da], ins, [], [5, 9], 'float32', undefined, [[2, 9]]), {
    message: 'elementwise: cannot sum shape [5, 9] down to [2, 9]; the target must broadcast to it',
  });
});

devices.gpu('a chain\'s launch plan is reused only for the layout and scalars it was made for', async (t) => {
  // one roots array throughout, as an op or a fused node keeps it: every call below looks up
  // the same chain's plans, and a plan reused for another layout would give wrong values
  const roots = [x.mul(scalar(0)).add(a).tanh().mul(x)];
  // square, so that a transposed view has the shape of the original and differs only in strides
  const cpu = { p: uniform([36, 36], 21), q: uniform([36, 36], 22), row: uniform([36], 23) };
  const gpu = { p: cpu.p.toGpu(), q: cpu.q.toGpu(), row: cpu.row.toGpu() };
  type Arrays = typeof cpu;
  const calls: { what: string; args: (v: Arrays) => NDArray[]; scalars: number[]; reused: boolean }[] = [
    { what: 'contiguous 2-D', args: (v) => [v.p, v.q], scalars: [0.5], reused: false },
    { what: 'the same layout, other arrays', args: (v) => [v.q, v.p], scalars: [0.5], reused: true },
    { what: 'another scalar', args: (v) => [v.p, v.q], scalars: [-2], reused: false },
    { what: 'both transposed (same shape, other strides)', args: (v) => [v.p.transpose(), v.q.transpose()], scalars: [0.5], reused: false },
    { what: 'a broadcast row', args: (v) => [v.p, v.row], scalars: [0.5], reused: false },
    { what: 'views at offset 3 (not vec4-aligned)', args: (v) => [v.p.view([1039], [1], 3), v.q.view([1039], [1], 3)], scalars: [0.5], reused: false },
    { what: 'views at offset 8', args: (v) => [v.p.view([1039], [1], 8), v.q.view([1039], [1], 8)], scalars: [0.5], reused: false },
    { what: 'the first layout once more', args: (v) => [v.p, v.q], scalars: [0.5], reused: true },
  ];
  for (const c of calls) {
    const ins = c.args(gpu), ref = elementwise(roots, c.args(cpu), c.scalars)[0];
    const before = { ...planStats };
    const got = backendOf('webgpu').elementwise(roots, ins, c.scalars, ref.shape, 'float32')[0];
    t.is(planStats.reused - before.reused, c.reused ? 1 : 0, `${c.what}: reused`);
    t.is(planStats.made - before.made, c.reused ? 0 : 1, `${c.what}: made`);
    allclose(t, await got.data(), ref.toFlat(), { atol: 1e-5, rtol: 1e-4 });
  }
});

devices.gpu('the vec4 kernel stores whole vec4s only where the lanes past the end belong to no array', async (t) => {
  // 1027 elements: the vec4 kernel's last vec4 has one lane in the array and three past it
  const n = 1027, roots = [x.mul(a).add(1)];
  const xs = [uniform([n], 31), uniform([n], 32)], gs = xs.map((v) => v.toGpu());
  const want = Array.from(elementwise(roots, xs)[0].toFlat());
  const sentinel = (len: number) => new NDArray(new Float32Array(len).fill(-7), [len]).toGpu();
  const cases = [
    // a slice at the start of a longer array: the three lanes past it are the next elements
    { what: 'a slice at the start of 2048 elements', len: 2048, offset: 0 },
    // ends where its storage ends: what lies past it is the buffer's padding
    { what: 'a slice ending where its 2051 elements end', len: 2051, offset: 1024 },
  ];
  for (const c of cases) {
    const whole = sentinel(c.len);
    backendOf('webgpu').elementwise(roots, gs, [], [n], 'float32', [whole.view([n], [1], c.offset)]);
    const got = Array.from(await whole.data());
    allclose(t, got.slice(c.offset, c.offset + n), want, { atol: 1e-6, rtol: 1e-6 });
    t.true([...got.slice(0, c.offset), ...got.slice(c.offset + n)].every((v) => v === -7), `${c.what}: elements outside the slice were written`);
  }
});
