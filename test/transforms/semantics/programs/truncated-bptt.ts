// Semantics program: a GRU-like cell written with sigmoid/tanh, trained with truncated BPTT (backward, unchainBackward, update every few steps).

import { F, L, optimizers, seed, zeros, Variable } from 'kusari';
import { normal, type Recorder } from '../outcome.js';

/** One step of a gated cell: every gate's elementwise tail is one chain. */
export class GatedCell extends L.Chain {
  readonly xz = new L.Linear(3, 4);
  readonly hz = new L.Linear(4, 4, { nobias: true });
  readonly xh = new L.Linear(3, 4);
  readonly hh = new L.Linear(4, 4, { nobias: true });

  forward(x: Variable, h: Variable): Variable {
    const z = F.sigmoid(this.xz.forward(x).add(this.hz.forward(h)));
    const c = F.tanh(this.xh.forward(x).add(this.hh.forward(h)));
    return z.mul(h).add(z.neg().add(1).mul(c));
  }
}

/** Half the squared error of a tanh readout. */
export class Readout extends L.Chain {
  readonly out = new L.Linear(4, 2);

  forward(h: Variable, t: Variable): Variable {
    const d = F.tanh(this.out.forward(h)).sub(t);
    return F.sum(d.mul(d).mul(0.5));
  }
}

export class Model extends L.Chain {
  readonly cell = new GatedCell();
  readonly readout = new Readout();
}

export async function run(r: Recorder): Promise<void> {
  seed(17);
  const model = new Model();
  if (r.device === 'webgpu') model.toGpu();
  const opt = new optimizers.SGD(0.1);
  opt.setup(model);
  const steps = 12, bptt = 4;
  let h = new Variable(zeros([2, 4], 'float32', r.device), { requiresGrad: false });
  let loss: Variable | null = null;
  const losses: number[] = [];
  for (let k = 0; k < steps; k++) {
    const x = normal(r, [2, 3], 400 + k, { requiresGrad: false });
    const t = normal(r, [2, 2], 500 + k, { scale: 0.5, requiresGrad: false });
    h = model.cell.forward(x, h);
    const l = model.readout.forward(h, t);
    loss = loss === null ? l : loss.add(l);
    if ((k + 1) % bptt === 0) {
      model.cleargrads();
      loss.backward();
      loss.unchainBackward();
      opt.update();
      losses.push(await loss.data.item());
      // the cut is real: the state's own creator keeps no inputs, so the next window stops here
      if (h.creator !== null && h.creator.inputs.length !== 0) throw new Error('truncated-bptt: unchainBackward left the state attached to its history');
      loss = null;
    }
  }
  await r.value('losses', losses);
  await r.value('h', h);
  await r.link('model', model);
}
