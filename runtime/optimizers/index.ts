// Optimizers: SGD, MomentumSGD and Adam here, AdaGrad, RMSprop, AdaDelta, NesterovAG beside; each one in-place update kernel per parameter (SGD: one for a device's float32 ones).

import { input, scalar } from '../../compiler/expr.js';
import { bumpVersion, type Device, type NDArray } from '../array/ndarray.js';
import { backendOf } from '../array/backend.js';
import type { Parameter } from '../links/link.js';
import { libraryKernels } from '../array/library-kernels.js';
import { Optimizer, POSITIVE, UNIT, checkSetting, updateInPlace } from './optimizer.js';

export { Optimizer, WeightDecay, GradientClipping, type OptimizerHook } from './optimizer.js';
export { AdaDelta } from './ada-delta.js';
export { AdaGrad } from './ada-grad.js';
export { NesterovAG } from './nesterov-ag.js';
export { RMSprop, type RMSpropOptions } from './rms-prop.js';
export { GradientHardClipping } from './gradient-hard-clipping.js';

const W = input(0), G = input(1), M = input(2), V = input(3);

// The updates, built once: the kernels a step runs are the ones a built app creates ahead.
/** W - lr g (scalar 0: lr) */
const SGD_UPDATE = [W.sub(scalar(0).mul(G))];
const MOMENTUM_V = scalar(1).mul(M).sub(scalar(0).mul(G));
/** W + v, v (scalars: lr, momentum) */
const MOMENTUM_UPDATE = [W.add(MOMENTUM_V), MOMENTUM_V];
const ADAM_M = M.add(scalar(0).mul(G.sub(M)));
const ADAM_V = V.add(scalar(1).mul(G.mul(G).sub(V)));
/** W, m, v (scalars: 1 - beta1, 1 - beta2, alpha_t, eps) */
const ADAM_UPDATE = [W.sub(scalar(2).mul(ADAM_M).div(ADAM_V.sqrt().add(scalar(3)))), ADAM_M, ADAM_V];

// A built app creates these updates' kernels in the background (fusion/background.ts): float32,
// in place, so W (and m, v) are read through their outputs' bindings, as updateInPlace binds them.
const f32 = (n: number) => Array.from({ length: n }, () => 'float32' as const);
libraryKernels(() => [
  { roots: SGD_UPDATE, inputs: f32(2), outputs: f32(1), aliases: [2, undefined] },
  { roots: MOMENTUM_UPDATE, inputs: f32(3), outputs: f32(2), aliases: [3, undefined, 4] },
  { roots: ADAM_UPDATE, inputs: f32(4), outputs: f32(3), aliases: [4, undefined, 5, 6] },
]);

/** W -= lr * g */
export class SGD extends Optimizer {
  constructor(public lr = 0.01) {
    super();
    this.checkSettings();
  }
  protected override checkSettings(): void { checkSetting('SGD', 'lr', this.lr, ...POSITIVE); }

  /**
   * Each device's float32 parameters together (backend.axpy: one wasm loop over all of them on
   * the CPU, one kernel per group of up to 8 on WebGPU; W + (-lr) g is W - lr g to the bit),
   * where a kernel per parameter paid its launch even for a bias of 10 floats. Anything else,
   * and a parameter whose gradient lives in some parameter's array (it must see the updates in
   * order), one kernel each.
   */
  protected override updateAll(params: readonly Parameter[]): void {
    const storages = new Set(params.map((p) => p.data.storage));
    const byDevice = new Map<Device, Parameter[]>();
    for (const p of params) {
      const [w, g] = [p.data, p.grad!];
      const pairs = w.dtype === 'float32' && g.dtype === 'float32' && w.device === g.device && w.isContiguous && g.isContiguous && w.size === g.size;
      if (!pairs || storages.has(g.storage)) continue;
      const group = byDevice.get(w.device);
      if (group === undefined) byDevice.set(w.device, [p]);
      else group.push(p);
    }
    const done = new Set<Parameter>();
    for (const [device, group] of byDevice) {
      if (group.length < 2 || backendOf(device).axpy?.(-this.lr, group.map((p) => p.grad!), group.map((p) => p.data)) !== true) continue;
      for (const p of group) {
        bumpVersion(p.data);
        done.add(p);
      }
    }
    for (const p of params) if (!done.has(p)) this.updateOne(p, p.grad!);
  }

  protected updateOne(p: Parameter, g: NDArray): void {
    updateInPlace(SGD_UPDATE, [p.data, g], [this.lr], [p.data]);
  }
}

/** v = momentum v - lr g; W += v */
export class MomentumSGD extends Optimizer {
  protected override readonly stateNames = ['v'];
  constructor(public lr = 0.01, public momentum = 0.9) {
    super();
    this.checkSettings();
  }
  protected override checkSettings(): void {
    checkSetting('MomentumSGD', 'lr', this.lr, ...POSITIVE);
    checkSetting('MomentumSGD', 'momentum', this.momentum, ...UNIT);
  }
  protected updateOne(p: Parameter, g: NDArray): void {
    const { v } = this.state(p, ['v']);
    updateInPlace(MOMENTUM_UPDATE, [p.data, g, v], [this.lr, this.momentum], [p.data, v]);
  }
}

/**
 * Adam (Kingma and Ba), in Chainer's form: m += (1-b1)(g-m); v += (1-b2)(g^2-v);
 * W -= alpha_t m / (sqrt(v) + eps) with alpha_t = alpha sqrt(1-b2^t) / (1-b1^t).
 */
export class Adam extends Optimizer {
  protected override readonly stateNames = ['m', 'v'];
  constructor(public alpha = 0.001, public beta1 = 0.9, public beta2 = 0.999, public eps = 1e-8) {
    super();
    this.checkSettings();
  }
  protected override checkSettings(): void {
    checkSetting('Adam', 'alpha', this.alpha, ...POSITIVE);
    checkSetting('Adam', 'beta1', this.beta1, ...UNIT);
    checkSetting('Adam', 'beta2', this.beta2, ...UNIT);
    checkSetting('Adam', 'eps', this.eps, ...POSITIVE);
  }

  /** The bias-corrected step size at the current step. */
  get alphaT(): number {
    return (this.alpha * Math.sqrt(1 - this.beta2 ** this.t)) / (1 - this.beta1 ** this.t);
  }

  protected updateOne(p: Parameter, g: NDArray): void {
    const { m, v } = this.state(p, ['m', 'v']);
    updateInPlace(ADAM_UPDATE, [p.data, g, m, v], [1 - this.beta1, 1 - this.beta2, this.alphaT, this.eps], [p.data, m, v]);
  }
}
