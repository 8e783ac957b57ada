// Optimizers: SGD, MomentumSGD and Adam here, AdaGrad, RMSprop, AdaDelta, NesterovAG beside; each one in-place update kernel per parameter (SGD: one for all CPU float32 ones).

import { input, scalar } from '../../compiler/expr.js';
import { bumpVersion, type NDArray } from '../array/ndarray.js';
import { dispatchStats } from '../array/backend.js';
import { wasmAxpy, wasmEnabled } from '../array/cpu/wasm-matmul.js';
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
   * The CPU's float32 parameters in ONE kernel (wasm's axpy over all of them, the same float32
   * arithmetic as SGD_UPDATE's wasm kernel), where one kernel a parameter paid its staging and
   * dispatch even for a bias of 10 floats; anything else one kernel each.
   */
  protected override updateAll(params: readonly Parameter[]): void {
    const together = wasmEnabled() ? params.filter((p) => groupable(p.data, p.grad!)) : [];
    // a gradient that is (a view of) some parameter's array must see the updates in order
    const buffers = new Set(together.map((p) => p.data.buffer));
    const group = together.filter((p) => !buffers.has(p.grad!.buffer));
    const distinct = new Set(group.map((p) => p.data.buffer)).size === group.length;
    if (group.length > 1 && distinct && wasmAxpy(-this.lr, group.map((p) => p.grad!), group.map((p) => p.data))) {
      dispatchStats.count++;
      for (const p of group) bumpVersion(p.data);
      for (const p of params) if (!group.includes(p)) this.updateOne(p, p.grad!);
      return;
    }
    super.updateAll(params);
  }

  protected updateOne(p: Parameter, g: NDArray): void {
    updateInPlace(SGD_UPDATE, [p.data, g], [this.lr], [p.data]);
  }
}

/** A CPU float32 parameter whose array and gradient are both contiguous, of the same size: what wasmAxpy takes. */
const groupable = (w: NDArray, g: NDArray): boolean =>
  w.device === 'cpu' && g.device === 'cpu' && w.dtype === 'float32' && g.dtype === 'float32' && w.buffer instanceof Float32Array && g.buffer instanceof Float32Array &&
  w.isContiguous && g.isContiguous && w.size === g.size;

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
