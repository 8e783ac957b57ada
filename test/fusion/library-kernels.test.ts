// The library's own kernels (matmul and pack, sums, softmax cross-entropy, the optimizers' updates, add, copy, fill) join a built app's background precompile: its first training step compiles none, whatever the sizes; an unbuilt app is left as it was.

import test from 'ava';
import { input } from '../../compiler/expr.js';
import { exprsToJSON } from '../../compiler/serialize.js';
import { array, F, L, optimizers, type NDArray } from '../../runtime/index.js';
import { compileStats, precompiled } from '../../runtime/fusion/background.js';
import { defineFusedKernel } from '../../runtime/fusion/declared.js';
import { allclose, uniform, useDevices } from '../helpers.js';

// serial: the first test reads the state before any kernel is declared
const devices = await useDevices(test.serial);

class Net extends L.Chain {
  a = new L.Linear(7, 8);
  b = new L.Linear(15, 5);
}

/** A net whose parameters are seeded float32 arrays on `device` (so the CPU run is the reference). */
function net(device: 'cpu' | 'webgpu', seed: number): Net {
  const n = new Net();
  [...n.params()].forEach((p, k) => {
    const x = array(Float32Array.from(uniform(p.data.shape, seed + k, -0.5, 0.5).toFlat()), p.data.shape);
    p.data = device === 'cpu' ? x : x.toGpu();
  });
  return n;
}

/**
 * One training step, every library kernel family on its path: a linear with the relu epilogue
 * (8 columns: rows of vec4s), concat, a linear with bias (5 columns: not), a residual add,
 * softmax cross-entropy, backward (pack, both matmul layouts, the bias gradients' sums, the
 * accumulation of y's two gradients, the seed fill) and the optimizer's in-place update.
 */
async function trainStep(n: Net, opt: optimizers.Optimizer, rows: number, seed: number, device: 'cpu' | 'webgpu'): Promise<{ loss: number; params: NDArray[] }> {
  const host = uniform([rows, 7], seed);
  const labels = array(Int32Array.from({ length: rows }, (_, i) => (i * 7 + seed) % 5), [rows]);
  const x = device === 'cpu' ? array(Float32Array.from(host.toFlat()), [rows, 7]) : array(Float32Array.from(host.toFlat()), [rows, 7]).toGpu();
  const t = device === 'cpu' ? labels : labels.toGpu();
  const h = F.linear(x, n.a.W, n.a.b!, { activation: 'relu' });
  const z = F.concat([h, x], 1);
  const y = n.b.forward(z);
  // y twice: a residual add forward, and backward accumulates y's two gradients with add
  const loss = F.softmaxCrossEntropy(F.add(y, y), t);
  n.cleargrads();
  loss.backward();
  opt.update();
  const params = await Promise.all([...n.params()].map((p) => (p.data.device === 'cpu' ? p.data : p.data.toCpu())));
  return { loss: await loss.data.item(), params };
}

test.serial('an app that declares no kernel (unbuilt) precompiles none of the library\'s', (t) => {
  const s = compileStats();
  t.false(s.library.joined);
  t.is(s.background.started, 0);
  t.true(s.library.families >= 7, `library families registered: ${s.library.families}`);
});

const OPTIMIZERS: [string, () => optimizers.Optimizer, number][] = [
  ['Adam', () => new optimizers.Adam(0.01), 6],
  ['SGD', () => new optimizers.SGD(0.1), 300],
  ['MomentumSGD', () => new optimizers.MomentumSGD(0.1, 0.9), 37],
];

devices.gpu('a built app: the library\'s kernels are made in the background, and a first step with each optimizer, at any batch size, compiles none and equals the CPU', async (t) => {
  // what a built app's generated module does at load
  defineFusedKernel({ name: 'library_probe', ir: exprsToJSON([input(0).mul(input(1)).add(0.8125).tanh()]) });
  t.true(compileStats().library.joined);
  const made = await precompiled();
  t.true(made > 0 && compileStats().library.variants > 0, `pipelines made in the background: ${made}`);
  for (const [name, make, rows] of OPTIMIZERS) {
    const gpu = net('webgpu', 10), cpu = net('cpu', 10);
    const before = compileStats();
    const got = await trainStep(gpu, make().setup(gpu), rows, 3, 'webgpu');
    t.is(compileStats().onDemand - before.onDemand, 0, `${name}, ${rows} rows: pipelines compiled on demand in the first step`);
    const want = await trainStep(cpu, make().setup(cpu), rows, 3, 'cpu');
    t.true(Math.abs(got.loss - want.loss) <= 1e-5 + 1e-4 * Math.abs(want.loss), `${name}: loss ${got.loss}, CPU ${want.loss}`);
    got.params.forEach((p, k) => allclose(t, p, want.params[k], { atol: 1e-5, rtol: 1e-4 }));
  }
});
