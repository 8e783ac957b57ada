// NesterovAG: Nesterov's accelerated gradient in Chainer's form (Sutskever et al.'s reformulation).

import { input, scalar } from '../../compiler/expr.js';
import type { NDArray } from '../array/ndarray.js';
import type { Parameter } from '../links/link.js';
import { Optimizer, updateInPlace } from './optimizer.js';
import { checkSetting, positive, unitInterval } from './settings.js';

const W = input(0), G = input(1), V = input(2);

/**
 * v = momentum v - lr g; W += momentum^2 v - (1 + momentum) lr g (Chainer's NesterovAG).
 * Defaults: lr 0.01, momentum 0.9.
 */
export class NesterovAG extends Optimizer {
  constructor(public lr = 0.01, public momentum = 0.9) {
    super();
    checkSetting('NesterovAG', 'lr', lr, positive, 'a finite number > 0');
    checkSetting('NesterovAG', 'momentum', momentum, unitInterval, 'in [0, 1)');
  }

  protected updateOne(p: Parameter, g: NDArray): void {
    const { v } = this.state(p, ['v']);
    const lr = scalar(0), mu = scalar(1);
    const vNew = mu.mul(V).sub(lr.mul(G));
    const wNew = W.add(mu.mul(mu).mul(vNew)).sub(mu.add(1).mul(lr).mul(G));
    updateInPlace([wNew, vNew], [p.data, g, v], [this.lr, this.momentum], [p.data, v]);
  }
}
