// Parses and runs the rendered WGSL on the CPU with wgsl_reflect's interpreter (a devDependency).

import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { input } from '../../compiler/expr.js';
import { collapse } from '../../compiler/js.js';
import {
  dispatchSize, packElementwiseParams, packPolyParams, packReduceParams, polyItems, polyLaunch, renderElementwise, renderPolymorphic,
  renderReduce, splitReduce, type PolyVariant, type WgslKernel,
} from '../../compiler/wgsl.js';
import { array, elementwise, reduce } from '../../runtime/array/xp.js';
import { allclose } from '../helpers.js';
import { ELEMENTWISE_CASES, REDUCE_CASE, layoutOf } from './cases.js';

/** The part of wgsl_reflect used here (loaded by path: its package "main" is CommonJS marked as ESM). */
interface WgslReflect {
  WgslParser: new () => { parse(code: string): unknown[] };
  WgslExec: new (ast: unknown[]) => {
    dispatchWorkgroups(entry: string, count: number[], bindGroups: Record<number, Record<number, unknown>>): void;
  };
}

const lib = (await import('wgsl_reflect/wgsl_reflect.module.js' as string)) as WgslReflect;

// wgsl_reflect 1.6 reads a multi-digit @workgroup_size(64) as (6, 4): kernels run here use 8.
const WG = 8;

/** Run `kernel` over `buffers` (operands in binding order) and the packed params, on `n` invocations or `groups` workgroups. */
function exec(kernel: WgslKernel, buffers: Float32Array[], params: ArrayBuffer, n: number, groups = dispatchSize(n, WG)): void {
  const { WgslParser, WgslExec } = lib;
  const group: Record<number, unknown> = {};
  buffers.forEach((b, k) => (group[k] = b));
  group[buffers.length] = { uniform: new Uint8Array(params) };
  new WgslExec(new WgslParser().parse(kernel.source)).dispatchWorkgroups(kernel.entryPoint, [...groups], { 0: group });
}

test(`the golden shaders parse`, (t) => {
  const dir = new URL('golden/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.wgsl'));
  t.true(files.length >= 4);
  for (const f of files) t.notThrows(() => new lib.WgslParser().parse(readFileSync(new URL(f, dir), 'utf8')), f);
});

for (const c of ELEMENTWISE_CASES) {
  test(`WGSL ${c.name} computes what the CPU kernel computes`, (t) => {
    const layout = layoutOf(c);
    const kernel = renderElementwise(c.roots, c.inputs.length, layout.shape.length, { workgroupSize: WG });
    const n = c.shape.reduce((p, q) => p * q, 1);
    const outs = c.roots.map(() => new Float32Array(n).fill(NaN));
    exec(kernel, [...c.inputs.map((a) => a.buffer as Float32Array), ...outs], packElementwiseParams(kernel, layout, c.scalars), n);
    const want = elementwise(c.roots, c.inputs, c.scalars);
    outs.forEach((o, j) => allclose(t, o, want[j].toFlat(), { rtol: 1e-5, atol: 1e-6 }));
  });
}

test(`WGSL ${REDUCE_CASE.name} computes what the CPU reduction computes`, (t) => {
  const { input: a, axes, op, map } = REDUCE_CASE;
  const outShape = a.shape.filter((_, d) => !axes.includes(d));
  const outStrides = a.shape.map((_, d) => (axes.includes(d) ? 0 : 1)); // (6,) contiguous over the kept dim
  const { kept, reduced } = splitReduce(a.shape, axes, { strides: [a.strides], offsets: [a.offset] }, { strides: outStrides, offset: 0 });
  const kernel = renderReduce(map, 1, kept.shape.length, reduced.shape.length, op, { workgroupSize: WG });
  const out = new Float32Array(outShape[0]);
  exec(kernel, [a.buffer as Float32Array, out], packReduceParams(kernel, kept, reduced, []), out.length);
  allclose(t, out, reduce(op, a, axes, false, map));
});

// Each workgroup of a polymorphic kernel takes one block of `span` items: every element must be
// written whatever the count, including a count that splits unevenly and a single workgroup
// doing everything (a software adapter's cap). flat4 lengths are whole vec4s here: the
// interpreter cannot store one lane of a vec4 (the partial last vec4 runs on the GPU, in
// test/webgpu).
for (const variant of ['flat', 'flat4'] as PolyVariant[]) {
  const sizes = variant === 'flat' ? [37, 150] : [36, 152];
  for (const [n, maxGroups] of [[sizes[0], undefined], [sizes[0], 1], [sizes[1], 3], [sizes[1], undefined]] as const) {
    test(`WGSL polymorphic ${variant} kernel covers ${n} elements in blocks (at most ${maxGroups ?? 'any number of'} workgroups)`, (t) => {
      const e = input(0).mul(input(1)).add(input(0));
      const kernel = renderPolymorphic([e], 2, variant, { workgroupSize: WG });
      const a = array(Float32Array.from({ length: n }, (_, i) => i * 0.25 - 3), [n]);
      const b = array(Float32Array.from({ length: n }, (_, i) => Math.cos(i)), [n]);
      // buffers whole vec4s long, as the pool's are; the output's padding must stay untouched
      const padded = (x: Float32Array) => { const p = new Float32Array(Math.ceil(n / 4) * 4).fill(NaN); p.set(x); return p; };
      const out = padded(new Float32Array(n).fill(NaN));
      const { groups, span } = polyLaunch(polyItems(n, variant), WG, 2, maxGroups);
      if (maxGroups !== undefined) t.true(groups <= maxGroups);
      const layout = { shape: [n], strides: [[1], [1], [1]], offsets: [0, 0, 0] };
      exec(kernel, [padded(a.buffer as Float32Array), padded(b.buffer as Float32Array), out], packPolyParams(kernel, variant, layout, [], span), 0, [groups, 1, 1]);
      allclose(t, out.subarray(0, n), elementwise([e], [a, b])[0].toFlat());
      for (let i = n; i < out.length; i++) t.true(Number.isNaN(out[i]), `padding element ${i} was written`);
    });
  }
}

test(`WGSL reads transposed and offset views through their strides`, (t) => {
  const base = array(Float32Array.from({ length: 30 }, (_, i) => i * 0.1 - 1), [5, 6]);
  const view = base.transpose().view([4, 5], [1, 6], 1); // a (4, 5) window of the transpose
  const row = array([1, 2, 3, 4, 5]);
  const e = input(0).mul(input(1)).sub(input(0).exp());
  const shape = [4, 5];
  const layout = collapse({ shape, strides: [view.strides.slice(), [0, 1], [5, 1]], offsets: [view.offset, 0, 0] });
  const kernel = renderElementwise([e], 2, layout.shape.length, { workgroupSize: WG });
  const out = new Float32Array(20);
  exec(kernel, [base.buffer as Float32Array, row.buffer as Float32Array, out], packElementwiseParams(kernel, layout, []), 20);
  allclose(t, out, elementwise([e], [view, row])[0]);
});

test(`WGSL pow agrees with Math.pow on negative bases, zero and integral exponents`, (t) => {
  const a = array([-2, -2, -0.5, 0, 0, 2, 3, -1.5, 5]);
  const b = array([2, 3, -1, 2, -1, 0.5, 0, 0.5, 0]);
  const e = input(0).pow(input(1));
  const kernel = renderElementwise([e], 2, 1, { workgroupSize: WG });
  const out = new Float32Array(9);
  exec(kernel, [a.buffer as Float32Array, b.buffer as Float32Array, out], packElementwiseParams(kernel, { shape: [9], strides: [[1], [1], [1]], offsets: [0, 0, 0] }, []), 9);
  allclose(t, out, [4, -8, -2, 0, Infinity, Math.SQRT2, 1, NaN, 1]);
});
