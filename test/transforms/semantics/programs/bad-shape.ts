// Semantics program: ops that throw on a bad shape inside a chain (first op, middle op, method form, a scalar-only chain), then a good call.

import { F, L, seed, type Variable } from 'kusari';
import { normal, type Recorder } from '../outcome.js';

export class Affine extends L.Chain {
  readonly l = new L.Linear(4, 4);

  forward(x: Variable, scale: Variable, shift: Variable): Variable {
    const h = this.l.forward(x);
    return F.tanh(h.mul(scale).add(shift)).mul(F.sigmoid(h)).add(1);
  }
}

/** A free chain whose middle op sees the mismatched argument. */
export function forward(x: Variable, y: Variable, z: Variable): Variable {
  return F.exp(F.add(F.mul(x, 2), y).sub(z).mul(0.5));
}

export async function run(r: Recorder): Promise<void> {
  seed(8);
  const model = new Affine();
  if (r.device === 'webgpu') model.toGpu();
  const x = normal(r, [3, 4], 81);
  const good = normal(r, [4], 82);
  const column = normal(r, [3, 1], 83);
  const bad = normal(r, [5], 84);
  const badMatrix = normal(r, [2, 4], 85);
  await r.error('scale', () => model.forward(x, bad, good));
  await r.error('shift', () => model.forward(x, good, bad));
  await r.error('shift matrix', () => model.forward(x, column, badMatrix));
  await r.error('x into Linear', () => model.forward(normal(r, [3, 5], 86), good, good));
  await r.error('free y', () => forward(x, bad, good));
  await r.error('free z', () => forward(x, good, badMatrix));
  // after the errors the same code runs on good shapes, and nothing is left half-built
  const y = model.forward(x, good, column);
  const w = forward(x, good, column);
  F.sum(y.add(w)).backward();
  await r.value('y', y);
  await r.value('w', w);
  await r.grad('x', x);
  await r.grad('good', good);
  await r.grad('column', column);
  await r.grad('bad', bad);
  await r.link('model', model);
}
