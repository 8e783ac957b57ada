// Semantics program: a switch on an argument with a chain per case, a `@fuse`-tagged helper whose intermediates are reused (extra outputs), and look-alikes that must not fuse.

import { F, seed, type Variable } from 'kusari';
import { normal, type Recorder } from '../outcome.js';

/** A user's own tanh on numbers: same name as F.tanh, never part of a chain. */
function tanh(v: number): number {
  return Math.tanh(v) * 2;
}

/** A class with a `.mul` that is not kusari's. */
class Scaled {
  constructor(readonly k: number) {}
  mul(v: number): Scaled { return new Scaled(this.k * v); }
}

/**
 * t and s are outputs beside y: the chain's kernel must return them too.
 * @fuse
 */
export function gatedResidual(x: Variable, g: Variable): Variable[] {
  const t = F.tanh(x.mul(2));
  const s = F.sigmoid(g);
  const y = t.mul(s).add(x);
  return [y, t.mul(t), s];
}

export function forward(x: Variable, g: Variable, kind: 'swish' | 'softsign' | 'mix'): Variable {
  const k = new Scaled(tanh(0.5)).mul(3).k;
  switch (kind) {
    case 'swish':
      return x.mul(F.sigmoid(x.mul(k))).add(g);
    case 'softsign': {
      const d = F.abs(x).add(1);
      return x.div(d).mul(g);
    }
    default: {
      const [y, tt, s] = gatedResidual(x, g);
      return y.add(tt).sub(s.mul(0.5));
    }
  }
}

export async function run(r: Recorder): Promise<void> {
  seed(9);
  const g = normal(r, [6], 91);
  for (const [i, kind] of (['swish', 'softsign', 'mix'] as const).entries()) {
    const x = normal(r, [2, 6], 92 + i);
    g.cleargrad();
    const y = forward(x, g, kind);
    F.sum(y.mul(y)).backward();
    await r.value(`y ${kind}`, y);
    await r.grad(`x ${kind}`, x);
    await r.grad(`g ${kind}`, g);
  }
  const x = normal(r, [3, 6], 99);
  const outs = gatedResidual(x, g);
  F.sum(outs[0].add(outs[1]).mul(outs[2])).backward();
  for (const [j, o] of outs.entries()) await r.value(`gatedResidual ${j}`, o);
  await r.grad('x tagged', x);
}
