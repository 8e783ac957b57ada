// AdaDelta (Zeiler), Chainer's rule: no learning rate; steps scaled by running RMS of past steps over running RMS of gradients.

import { input, scalar } from '../../compiler/expr.js';
import type { NDArray } from '../array/ndarray.js';
import type { Parameter } from '../links/link.js';
import { Optimizer, updateInPlace } from './optimizer.js';
import { checkSetting, positive, unitInterval } from './settings.js';

const W = input(0), G = input(1), MSG = input(2), MSDX = input(3);

/**
 * msg = rho msg + (1 - rho) g^2; dx = sqrt((msdx + eps) / (msg + eps)) g;
 * msdx = rho msdx + (1 - rho) dx^2; W -= dx. Defaults: rho 0.95, eps 1e-6.
 */
export class AdaDelta extends Optimizer {
  constructor(public rho = 0.95, public eps = 1e-6) {
    super();
    checkSetting('AdaDelta', 'rho', rho, unitInterval, 'in [0, 1)');
    checkSetting('AdaDelta', 'eps', eps, positive, 'a finite number > 0');
  }

  protected updateOne(p: Parameter, g: NDArray): void {
    const { msg, msdx } = this.state(p, ['msg', 'msdx']);
    const rho = scalar(0), oneMinusRho = scalar(1), eps = scalar(2);
    const msgNew = rho.mul(MSG).add(oneMinusRho.mul(G).mul(G));
    const dx = MSDX.add(eps).div(msgNew.add(eps)).sqrt().mul(G);
    const msdxNew = rho.mul(MSDX).add(oneMinusRho.mul(dx).mul(dx));
    updateInPlace([W.sub(dx), msgNew, msdxNew], [p.data, g, msg, msdx], [this.rho, 1 - this.rho, this.eps], [p.data, msg, msdx]);
  }
}
