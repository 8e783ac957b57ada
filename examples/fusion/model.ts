// examples/fusion's model: an LSTM cell written with F.sigmoid/F.tanh reads a digit in strips, tanh-gated layers classify it; its forwards are the chains the build fuses.

import { F, L, Variable, full, zeros, type NDArray, type VariableLike } from 'kusari';

/**
 * One LSTM step, written out as a user would (Hochreiter and Schmidhuber, with a forget
 * gate), each gate reading [x; h]: a = tanh(Wa [x; h] + ba), i, f, o = sigmoid(W. [x; h] + b.),
 * c' = f c + i a, h' = o tanh(c'). The four matmuls run first; everything after them is
 * elementwise, which the build turns into fused kernels forward and backward.
 */
export class LSTMCell extends L.Chain {
  readonly wa: L.Linear;
  readonly wi: L.Linear;
  readonly wf: L.Linear;
  readonly wo: L.Linear;

  constructor(inSize: number, readonly units: number) {
    super();
    this.wa = new L.Linear(inSize + units, units);
    this.wi = new L.Linear(inSize + units, units);
    // a forget bias of 1: remember by default early in training (Gers et al.)
    this.wf = new L.Linear(inSize + units, units, { initialBias: (shape, dtype) => full(shape, 1, dtype) });
    this.wo = new L.Linear(inSize + units, units);
  }

  /** (x, h, c) -> [h', c']. */
  forward(x: VariableLike, h: Variable, c: Variable): [Variable, Variable] {
    const xh = F.concat([x, h], 1);
    const za = this.wa.forward(xh), zi = this.wi.forward(xh), zf = this.wf.forward(xh), zo = this.wo.forward(xh);
    const cNext = F.sigmoid(zf).mul(c).add(F.sigmoid(zi).mul(F.tanh(za)));
    const hNext = F.sigmoid(zo).mul(F.tanh(cNext));
    return [hNext, cNext];
  }
}

/**
 * A tanh-gated layer (the gated tanh unit of WaveNet and gated CNNs): y = tanh(A x) sigmoid(G x),
 * plus x when the sizes match (a residual connection). Its tail is one fused kernel.
 */
export class GatedLayer extends L.Chain {
  readonly a: L.Linear;
  readonly g: L.Linear;

  constructor(inSize: number, readonly outSize: number, readonly residual = inSize === outSize) {
    super();
    this.a = new L.Linear(inSize, outSize);
    this.g = new L.Linear(inSize, outSize);
  }

  forward(x: Variable): Variable {
    const za = this.a.forward(x), zg = this.g.forward(x);
    const y = F.tanh(za).mul(F.sigmoid(zg));
    return this.residual ? y.add(x) : y;
  }
}

/** The classifier: the LSTM reads the image as `strips` rows of pixels, two gated layers and a linear readout score the ten digits. */
export class StripNet extends L.Chain {
  readonly cell: LSTMCell;
  readonly g1: GatedLayer;
  readonly g2: GatedLayer;
  readonly out: L.Linear;

  constructor(readonly stripSize: number, units = 64, hidden = 128) {
    super();
    this.cell = new LSTMCell(stripSize, units);
    this.g1 = new GatedLayer(units, hidden);
    this.g2 = new GatedLayer(hidden, hidden);
    this.out = new L.Linear(hidden, 10);
  }

  /** strips: the image's pixels, one (B, stripSize) array per step, top to bottom; t: labels (B,). The loss. */
  forward(strips: readonly NDArray[], t: NDArray): Variable {
    return F.softmaxCrossEntropy(this.scores(strips), t);
  }

  /** The ten class scores (B, 10). */
  scores(strips: readonly NDArray[]): Variable {
    const [batch] = strips[0].shape, device = strips[0].device;
    let h = new Variable(zeros([batch, this.cell.units], 'float32', device)), c = h;
    for (const x of strips) [h, c] = this.cell.forward(x, h, c);
    return this.out.forward(this.g2.forward(this.g1.forward(h)));
  }
}
