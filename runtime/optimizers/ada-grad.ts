// AdaGrad (Duchi et al.), Chainer's rule: h += g^2; W -= lr g / (sqrt(h) + eps).

import { input, scalar } from '../../compiler/expr.js';
import type { NDArray } from '../array/ndarray.js';
import type { Parameter } from '../links/link.js';
import { Optimizer, updateInPlace } from './optimizer.js';
import { checkSetting, nonNegative, positive } from './settings.js';

const W = input(0), G = input(1), H = input(2);

/** Per-weight step sizes that shrink with the sum of squared gradients seen. Defaults: lr 0.001, eps 1e-8. */
export class AdaGrad extends Optimizer {
  constructor(public lr = 0.001, public eps = 1e-8) {
    super();
    checkSetting('AdaGrad', 'lr', lr, positive, 'a finite number > 0');
    checkSetting('AdaGrad', 'eps', eps, nonNegative, 'a finite number >= 0');
  }

  protected updateOne(p: Parameter, g: NDArray): void {
    const { h } = this.state(p, ['h']);
    const hNew = H.add(G.mul(G));
    updateInPlace([W.sub(scalar(0).mul(G).div(hNew.sqrt().add(scalar(1)))), hNew], [p.data, g, h], [this.lr, this.eps], [p.data, h]);
  }
}
