// GradientHardClipping: every gradient element clipped into [lowerBound, upperBound] before the update.

import { input, scalar } from '../../compiler/expr.js';
import { elementwise } from '../array/xp.js';
import type { Optimizer, OptimizerHook } from './optimizer.js';

/** g = min(max(g, lowerBound), upperBound), elementwise, for every parameter (Chainer's hook). */
export class GradientHardClipping implements OptimizerHook {
  readonly name = 'GradientHardClipping';

  constructor(readonly lowerBound: number, readonly upperBound: number) {
    for (const [setting, v] of [['lowerBound', lowerBound], ['upperBound', upperBound]] as const) {
      if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`GradientHardClipping: ${setting} must be a number, got ${String(v)}`);
    }
    if (!(lowerBound <= upperBound)) {
      throw new Error(`GradientHardClipping: lowerBound (${lowerBound}) must not exceed upperBound (${upperBound})`);
    }
  }

  apply(opt: Optimizer): void {
    for (const p of opt.paramsWithGrad()) {
      // a fresh array, not in place: a gradient may be a zero-stride view or shared (see WeightDecay)
      [p.grad] = elementwise([input(0).max(scalar(0)).min(scalar(1))], [p.grad!], [this.lowerBound, this.upperBound], { dtype: p.grad!.dtype, op: 'GradientHardClipping' });
    }
  }
}
