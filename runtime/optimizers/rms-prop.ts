// RMSprop (Hinton), Chainer's rule: ms = alpha ms + (1 - alpha) g^2; W -= lr g / (sqrt(ms) + eps).

import { input, scalar } from '../../compiler/expr.js';
import type { NDArray } from '../array/ndarray.js';
import type { Parameter } from '../links/link.js';
import { Optimizer, updateInPlace } from './optimizer.js';
import { checkSetting, nonNegative, positive, unitInterval } from './settings.js';

const W = input(0), G = input(1), MS = input(2);

export interface RMSpropOptions {
  /** Divide by sqrt(ms + eps) instead of sqrt(ms) + eps (Chainer's eps_inside_sqrt, default false). */
  epsInsideSqrt?: boolean;
}

/** Step sizes scaled by a running mean of squared gradients. Defaults: lr 0.01, alpha 0.99, eps 1e-8. */
export class RMSprop extends Optimizer {
  readonly epsInsideSqrt: boolean;

  constructor(public lr = 0.01, public alpha = 0.99, public eps = 1e-8, opts: RMSpropOptions = {}) {
    super();
    checkSetting('RMSprop', 'lr', lr, positive, 'a finite number > 0');
    checkSetting('RMSprop', 'alpha', alpha, unitInterval, 'in [0, 1)');
    checkSetting('RMSprop', 'eps', eps, nonNegative, 'a finite number >= 0');
    this.epsInsideSqrt = opts.epsInsideSqrt ?? false;
  }

  protected updateOne(p: Parameter, g: NDArray): void {
    const { ms } = this.state(p, ['ms']);
    const lr = scalar(0), alpha = scalar(1), oneMinusAlpha = scalar(2), eps = scalar(3);
    const msNew = alpha.mul(MS).add(oneMinusAlpha.mul(G).mul(G));
    const denom = this.epsInsideSqrt ? msNew.add(eps).sqrt() : msNew.sqrt().add(eps);
    updateInPlace([W.sub(lr.mul(G).div(denom)), msNew], [p.data, g, ms], [this.lr, this.alpha, 1 - this.alpha, this.eps], [p.data, ms]);
  }
}
