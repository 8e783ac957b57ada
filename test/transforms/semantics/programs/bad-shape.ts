// Semantics program: ops that throw on a bad shape inside chains (the first op, a middle op, method and F.* forms, a Linear before the chain; a mixed dtype, an operand on another device), then the same code on good shapes.

import { F, L, Variable, randomNormal, seed } from 'kusari';
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
  // a float64 operand in a float32 chain, and (on WebGPU) an operand left on the CPU
  const double = new Variable(randomNormal([4], 0, 1, { dtype: 'float64' }).to(r.device === 'webgpu' ? 'cpu' : r.device));
  await r.error('float64 shift', () => model.forward(x, good, double));
  if (r.device === 'webgpu') await r.error('shift on the CPU', () => forward(x, good, new Variable(randomNormal([4]))));
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
