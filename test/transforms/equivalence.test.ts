// The transform builds the same IR, hence the same kernel names, as fuse(fn) for the same chain, and computes the same values.

import test from 'ava';
import { exprsToJSON } from '../../compiler/serialize.js';
import { chainName } from '../../compiler/fusion/chain.js';
import { fuse } from '../../runtime/fusion/fuse.js';
import type { NDArray } from '../../runtime/array/ndarray.js';
import type { Variable } from '../../runtime/graph/variable.js';
import { Elementwise } from '../../runtime/ops/elementwise.js';
import '../../runtime/index.js';
import { allclose, on, uniform, useDevices } from '../helpers.js';
import { RUNTIME, load, transform } from './helpers.js';

type Fn = (...xs: Variable[]) => Variable | Variable[];

/** Each body is a @fuse function of x, a, b (Variables) returning a Variable or an array of them. */
const CASES: Record<string, string> = {
  'F functions (the B3 chain)': 'return F.add(F.mul(F.tanh(F.add(F.mul(x, a), b)), F.sigmoid(x)), F.mul(F.mul(x, x), 0.5));',
  'Variable methods': 'return x.mul(a).add(b).tanh().mul(x.sigmoid());',
  'literals and a const as scalars': 'const k = 0.25;\n  return x.mul(k).add(1).sigmoid().sub(a.mul(-2));',
  'reversed methods (rsub, rdiv)': 'return x.rsub(1).rdiv(a.exp()).add(b);',
  'defaults filled in (softplus beta, leakyRelu slope)': 'return F.leakyRelu(F.softplus(x.mul(a)).add(b));',
  'where, maximum, clip': 'return F.clip(F.where(x, F.maximum(a, b), b.neg()), -0.5, 0.75).abs();',
  'statements joined through variables': 'const h = F.tanh(x.mul(a));\n  const g = h.mul(h).add(b);\n  return g.sqrt();',
  'a reused intermediate is a second output': 'const h = F.tanh(x.mul(a));\n  const y = h.mul(h).add(b);\n  return [y, h];',
  'receiver evaluated after its argument chain': 'return a.add(b.mul(x).exp()).mul(x);',
};

const modules = await Promise.all(Object.entries(CASES).map(async ([title, body], k) => {
  const source = `import { F, Variable } from ${JSON.stringify(RUNTIME)};\n\n/** @fuse */\nexport function f(x: Variable, a: Variable, b: Variable) {\n  ${body}\n}\n`;
  const out = transform(`test/transforms/equivalence-${k}.ts`, source, { runtimeImport: RUNTIME });
  return { title, out, plain: (await load<{ f: Fn }>(source)).f, built: out.changed ? (await load<{ f: Fn }>(out.code)).f : null };
}));
const devices = await useDevices(test);
const host = async (x: NDArray) => (x.device === 'cpu' ? x : x.toCpu());

for (const { title, out, plain, built } of modules) {
  devices.each(`transform vs fuse(fn): ${title}`, async (t, device) => {
    t.true(out.changed, out.code);
    t.is(out.report.chains.length, 1, JSON.stringify(out.report));
    {
      const x = on(device, uniform([2, 3], 1), { requiresGrad: true }), a = on(device, uniform([2, 3], 2)), b = on(device, uniform([3], 3));
      const viaFuse = [fuse(plain)(x, a, b)].flat();
      const viaBuild = [built!(x, a, b)].flat();
      const fNode = viaFuse[0].creator as Elementwise, bNode = viaBuild[0].creator as Elementwise;
      t.true(fNode instanceof Elementwise && bNode instanceof Elementwise);
      // one node each way, and it is the same kernel: same IR, same name
      t.deepEqual(exprsToJSON(bNode.roots), exprsToJSON(fNode.roots));
      t.is(bNode.label, out.report.chains[0].kernel);
      t.is(chainName(fNode.roots, fNode.inputs.length), out.report.chains[0].kernel);
      t.is(viaBuild.length, viaFuse.length);
      for (const [j, y] of viaBuild.entries()) allclose(t, await host(y.data), await host(viaFuse[j].data));
      t.true(viaBuild.every((y) => y.creator === bNode), 'every output from the one fused node');
      // and the same gradient through the one backward kernel
      const g: NDArray[] = [];
      for (const ys of [viaFuse, viaBuild]) {
        x.cleargrad();
        ys[0].sum().backward();
        g.push(x.grad!);
      }
      allclose(t, await host(g[1]), await host(g[0]));
    }
  });
}

