// getArrayModule functions fuse among themselves (NDArrays in, NDArrays out, no graph), never with graph ops; errors as unfused.

import test from 'ava';
import { NDArray } from '../../runtime/array/ndarray.js';
import type { Variable } from '../../runtime/graph/variable.js';
import '../../runtime/index.js';
import { allclose, on, uniform, useDevices } from '../helpers.js';
import { RUNTIME, load, transform } from './helpers.js';

const SOURCE = `import { F, getArrayModule, NDArray, Variable } from ${JSON.stringify(RUNTIME)};

export function forward(a: NDArray, b: NDArray): NDArray {
  const xp = getArrayModule(a);
  const d = xp.subtract(xp.multiply(a, 2), b);
  const s = xp.sum(d);
  return xp.exp(xp.negative(xp.maximum(d, 0.25))).reshape(s.shape.length === 0 ? [2, 3] : [6]);
}

/** @fuse */
export function mixed(a: NDArray, v: Variable): Variable {
  const xp = getArrayModule(a);
  return F.tanh(xp.add(xp.abs(a), 1)).mul(v);
}
`;
type Fns = { forward: (a: NDArray, b: NDArray) => NDArray; mixed: (a: NDArray, v: Variable) => Variable };
const out = transform('test/transforms/array-module-source.ts', SOURCE, { runtimeImport: RUNTIME });
const plain = await load<Fns>(SOURCE);
const built = await load<Fns>(out.code);
const devices = await useDevices(test);
const host = async (x: NDArray) => (x.device === 'cpu' ? x : x.toCpu());

test('array module: its functions form chains of their own, separate from graph ops', (t) => {
  t.deepEqual(out.report.chains.map((c) => c.ops), [['multiply', 'subtract'], ['maximum', 'negative', 'exp'], ['abs', 'add'], ['tanh', 'mul']]);
  t.regex(out.code, /const d = __kusariKernel0\.applyArrays\(a, b, 2\)\[0\];/);
  t.regex(out.code, /return __kusariKernel3\.apply\(__kusariKernel2\.applyArrays\(a, 1\)\[0\], v\)\[0\];/);
});

devices.each('array module: NDArrays in, NDArrays out, values as unfused', async (t, device) => {
  const a = on(device, uniform([2, 3], 1)).data, b = on(device, uniform([3], 2)).data;
  const y0 = plain.forward(a, b), y1 = built.forward(a, b);
  t.true(y1 instanceof NDArray);
  allclose(t, await host(y1), await host(y0));
});

devices.each('array module: a bad shape names the function, as unfused', (t, device) => {
  const a = on(device, uniform([2, 3], 1)).data, bad = on(device, uniform([4], 2)).data;
  const e0 = t.throws(() => plain.forward(a, bad))!;
  const e1 = t.throws(() => built.forward(a, bad))!;
  t.is(e1.message, e0.message);
  t.regex(e1.message, /^subtract: /);
});
