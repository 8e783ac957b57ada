// AdaGrad, RMSprop, AdaDelta, NesterovAG and GradientHardClipping against Chainer's update rules in plain JS; settings checked; both devices.

import test from 'ava';
import { NDArray, array, F, L, optimizers } from '../../runtime/index.js';
import { allclose, useDevices } from '../helpers.js';

const devices = await useDevices(test);

/** A model with one float64 parameter W and the loss sum(c * (W - target)^2). */
class Quad extends L.Chain {
  W = new L.Parameter(array([0.5, -1.5, 2, 0.1], [4], 'float64'));
}
const TARGET = [1, 2, -1, 0];
const C = [1, 0.5, 2, 3];
const W0 = [0.5, -1.5, 2, 0.1];
const lossOf = (m: Quad) => F.sum(F.mul(F.pow(F.sub(m.W, array(TARGET, [4], m.W.dtype).to(m.W.data.device)), 2), array(C, [4], m.W.dtype).to(m.W.data.device)));
const gradOf = (w: number[]) => w.map((v, i) => 2 * C[i] * (v - TARGET[i]));

/** A plain-JS update rule: state per weight, returns the new weight. */
type Rule = { make: () => optimizers.Optimizer; step: (w: number[], g: number[], s: Record<string, number[]>, t: number) => number[] };

const RULES: Record<string, Rule> = {
  'AdaGrad (lr 0.1, eps 1e-3)': {
    make: () => new optimizers.AdaGrad(0.1, 1e-3),
    step: (w, g, s) => {
      s.h ??= [0, 0, 0, 0];
      s.h = s.h.map((h, i) => h + g[i] * g[i]);
      return w.map((v, i) => v - (0.1 * g[i]) / (Math.sqrt(s.h[i]) + 1e-3));
    },
  },
  'RMSprop (lr 0.05, alpha 0.9, eps 1e-4)': {
    make: () => new optimizers.RMSprop(0.05, 0.9, 1e-4),
    step: (w, g, s) => {
      s.ms ??= [0, 0, 0, 0];
      s.ms = s.ms.map((m, i) => 0.9 * m + 0.1 * g[i] * g[i]);
      return w.map((v, i) => v - (0.05 * g[i]) / (Math.sqrt(s.ms[i]) + 1e-4));
    },
  },
  'RMSprop with epsInsideSqrt': {
    make: () => new optimizers.RMSprop(0.05, 0.9, 1e-2, { epsInsideSqrt: true }),
    step: (w, g, s) => {
      s.ms ??= [0, 0, 0, 0];
      s.ms = s.ms.map((m, i) => 0.9 * m + 0.1 * g[i] * g[i]);
      return w.map((v, i) => v - (0.05 * g[i]) / Math.sqrt(s.ms[i] + 1e-2));
    },
  },
  'AdaDelta (rho 0.9, eps 1e-2)': {
    make: () => new optimizers.AdaDelta(0.9, 1e-2),
    step: (w, g, s) => {
      s.msg ??= [0, 0, 0, 0];
      s.msdx ??= [0, 0, 0, 0];
      s.msg = s.msg.map((m, i) => 0.9 * m + 0.1 * g[i] * g[i]);
      const dx = g.map((gi, i) => Math.sqrt((s.msdx[i] + 1e-2) / (s.msg[i] + 1e-2)) * gi);
      s.msdx = s.msdx.map((m, i) => 0.9 * m + 0.1 * dx[i] * dx[i]);
      return w.map((v, i) => v - dx[i]);
    },
  },
  'NesterovAG (lr 0.02, momentum 0.8)': {
    make: () => new optimizers.NesterovAG(0.02, 0.8),
    step: (w, g, s) => {
      s.v ??= [0, 0, 0, 0];
      s.v = s.v.map((v, i) => 0.8 * v - 0.02 * g[i]);
      return w.map((v, i) => v + 0.8 * 0.8 * s.v[i] - 1.8 * 0.02 * g[i]);
    },
  },
};

for (const [name, rule] of Object.entries(RULES)) {
  test(`${name}: four steps equal Chainer's rule in plain JS`, (t) => {
    const m = new Quad();
    const opt = rule.make().setup(m);
    let w = W0.slice();
    const state: Record<string, number[]> = {};
    for (let step = 1; step <= 4; step++) {
      opt.update(() => lossOf(m));
      w = rule.step(w, gradOf(w), state, step);
      allclose(t, m.W.data, w, { atol: 1e-12, rtol: 1e-12 });
    }
  });
}

test("defaults are Chainer's", (t) => {
  const ada = new optimizers.AdaGrad();
  t.deepEqual([ada.lr, ada.eps], [0.001, 1e-8]);
  const rms = new optimizers.RMSprop();
  t.deepEqual([rms.lr, rms.alpha, rms.eps, rms.epsInsideSqrt], [0.01, 0.99, 1e-8, false]);
  const delta = new optimizers.AdaDelta();
  t.deepEqual([delta.rho, delta.eps], [0.95, 1e-6]);
  const nag = new optimizers.NesterovAG();
  t.deepEqual([nag.lr, nag.momentum], [0.01, 0.9]);
});

test('bad settings are refused, naming the optimizer and the setting', (t) => {
  t.throws(() => new optimizers.AdaGrad(0), { message: 'AdaGrad: lr must be a finite number > 0, got 0' });
  t.throws(() => new optimizers.AdaGrad(0.1, -1), { message: 'AdaGrad: eps must be a finite number >= 0, got -1' });
  t.throws(() => new optimizers.RMSprop(Infinity), { message: 'RMSprop: lr must be a finite number > 0, got Infinity' });
  t.throws(() => new optimizers.RMSprop(0.01, 1), { message: 'RMSprop: alpha must be in [0, 1), got 1' });
  t.throws(() => new optimizers.AdaDelta(NaN), { message: 'AdaDelta: rho must be in [0, 1), got NaN' });
  t.throws(() => new optimizers.AdaDelta(0.9, 0), { message: 'AdaDelta: eps must be a finite number > 0, got 0' });
  t.throws(() => new optimizers.NesterovAG(-0.1), { message: 'NesterovAG: lr must be a finite number > 0, got -0.1' });
  t.throws(() => new optimizers.NesterovAG(0.1, 1.5), { message: 'NesterovAG: momentum must be in [0, 1), got 1.5' });
  t.throws(() => new optimizers.GradientHardClipping(1, -1), { message: 'GradientHardClipping: lowerBound (1) must not exceed upperBound (-1)' });
  t.throws(() => new optimizers.GradientHardClipping(NaN, 1), { message: 'GradientHardClipping: lowerBound must be a number, got NaN' });
});

test('GradientHardClipping: each gradient element clipped into [lower, upper] before the update, on a zero-stride gradient too', (t) => {
  const m = new Quad();
  const opt = new optimizers.SGD(0.1).setup(m);
  opt.addHook(new optimizers.GradientHardClipping(-1, 2));
  opt.update(() => lossOf(m));
  const g = gradOf(W0).map((v) => Math.min(Math.max(v, -1), 2));
  allclose(t, m.W.data, W0.map((w, i) => w - 0.1 * g[i]), { atol: 1e-12 });
  // the gradient of a plain sum is a broadcast (zero-stride) view: clipping must not write through it
  class Two extends L.Chain { a = new L.Parameter(array([1, 2, 3], [3], 'float64')); }
  const two = new Two();
  const o2 = new optimizers.SGD(1).setup(two).addHook(new optimizers.GradientHardClipping(-0.5, 0.5));
  o2.update(() => F.mul(F.sum(two.a), 3));
  allclose(t, two.a.data, [0.5, 1.5, 2.5], { atol: 1e-12 });
});

devices.gpu('AdaGrad, RMSprop, AdaDelta, NesterovAG, GradientHardClipping: a GPU model follows the CPU one', async (t) => {
  for (const [name, rule] of Object.entries(RULES)) {
    const run = async (device: 'cpu' | 'webgpu') => {
      const m = new Quad();
      m.W.data = new NDArray(new Float32Array(W0), [4]);
      if (device === 'webgpu') m.toGpu();
      const opt = rule.make().setup(m).addHook(new optimizers.GradientHardClipping(-3, 3));
      for (let i = 0; i < 3; i++) opt.update(() => lossOf(m));
      return Array.from(await m.W.data.data());
    };
    const [cpu, gpu] = [await run('cpu'), await run('webgpu')];
    const bad = cpu.findIndex((c, i) => Math.abs(c - gpu[i]) > 1e-5 + 1e-4 * Math.abs(c));
    t.is(bad, -1, `${name}: element ${bad}: webgpu ${gpu[bad]} != cpu ${cpu[bad]}`);
  }
});
