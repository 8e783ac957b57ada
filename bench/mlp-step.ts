// Benchmark: median ms per MLP training step (forward, backward, SGD), kusari vs TensorFlow.js's CPU backend.
// Run from the repository root: npx tsx bench/mlp-step.ts [--reps N] [--warmup N]

import * as tf from '@tensorflow/tfjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { F, L, RandomState, array, optimizers, type Variable, type VariableLike } from 'kusari';

const BATCH = 100;
const CLASSES = 10;
const LR = 0.01;
const MODELS = [
  { name: '784-100-100-10', sizes: [784, 100, 100, CLASSES], reps: 15 },
  { name: '784-1000-1000-10', sizes: [784, 1000, 1000, CLASSES], reps: 5 },
];

/** One training step; returns the loss so that every library finishes its work before the clock stops. */
type Step = () => number;

class MLP extends L.Chain {
  l1: L.Linear; l2: L.Linear; l3: L.Linear;
  constructor([i, h1, h2, o]: readonly number[]) {
    super();
    this.l1 = new L.Linear(i, h1);
    this.l2 = new L.Linear(h1, h2);
    this.l3 = new L.Linear(h2, o);
  }
  forward(x: VariableLike): Variable {
    return this.l3.forward(F.relu(this.l2.forward(F.relu(this.l1.forward(x)))));
  }
}

/** The same batch for both libraries: inputs (BATCH, sizes[0]) and labels (BATCH,). */
interface Batch { x: Float32Array; t: Int32Array }

function kusariStep(sizes: readonly number[], data: Batch): Step {
  const x = array(data.x, [BATCH, sizes[0]]), t = array(data.t, [BATCH]);
  const model = new MLP(sizes);
  const optimizer = new optimizers.SGD(LR);
  optimizer.setup(model);
  return () => {
    const loss = F.softmaxCrossEntropy(model.forward(x), t);
    model.cleargrads();
    loss.backward();
    optimizer.update();
    return loss.itemSync();
  };
}

function tfjsStep(sizes: readonly number[], data: Batch): Step {
  const xs = tf.tensor2d(data.x, [BATCH, sizes[0]]);
  const onehot = tf.oneHot(tf.tensor1d(data.t, 'int32'), CLASSES);
  // LeCun-normal weights, (in, out) as tfjs multiplies them, and zero biases: kusari's Linear defaults
  const layers = sizes.slice(1).map((out, k) => ({
    W: tf.variable(tf.randomNormal([sizes[k], out], 0, Math.sqrt(1 / sizes[k]), 'float32', k)),
    b: tf.variable(tf.zeros([out])),
  }));
  const optimizer = tf.train.sgd(LR);
  const lossFn = () => {
    let h: tf.Tensor2D = xs;
    layers.forEach(({ W, b }, k) => {
      h = tf.add(tf.matMul(h, W), b);
      if (k < layers.length - 1) h = tf.relu(h);
    });
    return tf.losses.softmaxCrossEntropy(onehot, h) as tf.Scalar;
  };
  return () => {
    const loss = optimizer.minimize(lossFn, true)!;
    const value = loss.dataSync()[0];
    loss.dispose();
    return value;
  };
}

/** Run one step under the clock; a non-finite loss means something broke, so stop rather than report. */
function time(step: Step, losses: number[]): number {
  const start = performance.now();
  const loss = step();
  const ms = performance.now() - start;
  if (!Number.isFinite(loss)) throw new Error(`mlp-step: a step returned loss ${loss}; the comparison would be meaningless`);
  losses.push(loss);
  return ms;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const { values } = parseArgs({ options: { reps: { type: 'string' }, warmup: { type: 'string', default: '3' } } });
const count = (name: string, text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`mlp-step: --${name} must be a positive integer, got '${text}'`);
  return n;
};
const warmup = count('warmup', values.warmup);

await tf.setBackend('cpu');
await tf.ready();

const results = MODELS.map(({ name, sizes, reps: defaultReps }) => {
  const reps = values.reps === undefined ? defaultReps : count('reps', values.reps);
  const rng = new RandomState(0);
  const data = {
    x: Float32Array.from({ length: BATCH * sizes[0] }, () => rng.normal()),
    t: Int32Array.from({ length: BATCH }, () => rng.nextU32() % CLASSES),
  };
  const steps = { kusari: kusariStep(sizes, data), tfjs: tfjsStep(sizes, data) };
  for (let i = 0; i < warmup; i++) { steps.kusari(); steps.tfjs(); }
  const ms = { kusari: [] as number[], tfjs: [] as number[] };
  const losses = { kusari: [] as number[], tfjs: [] as number[] };
  for (let r = 0; r < reps; r++) {
    // alternate who goes first, so neither always inherits the other's garbage or cache state
    const order = r % 2 === 0 ? (['kusari', 'tfjs'] as const) : (['tfjs', 'kusari'] as const);
    for (const lib of order) ms[lib].push(time(steps[lib], losses[lib]));
  }
  const kusariMs = median(ms.kusari), tfjsMs = median(ms.tfjs);
  // both fit the same fixed batch, so both losses should fall from about ln(10): a cheap check that both train
  const lossFirstLast = { kusari: [losses.kusari[0], losses.kusari.at(-1)], tfjs: [losses.tfjs[0], losses.tfjs.at(-1)] };
  return { model: name, batch: BATCH, reps, warmup, kusariMs, tfjsMs, ratio: kusariMs / tfjsMs, samplesMs: ms, lossFirstLast };
});

const pad = (s: string, n: number) => s.padStart(n);
console.log(`MLP training step (forward + backward + SGD), batch ${BATCH}, median of timed reps; tfjs ${tf.version.tfjs} '${tf.getBackend()}' backend, node ${process.version}`);
console.log(`${'model'.padEnd(18)}${pad('kusari ms', 11)}${pad('tfjs ms', 11)}${pad('kusari/tfjs', 13)}`);
for (const r of results) {
  console.log(`${r.model.padEnd(18)}${pad(r.kusariMs.toFixed(2), 11)}${pad(r.tfjsMs.toFixed(2), 11)}${pad(r.ratio.toFixed(2), 13)}`);
}

const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const report = {
  bench: 'mlp-step',
  date: new Date().toISOString(),
  node: process.version,
  tfjs: tf.version.tfjs,
  tfjsBackend: tf.getBackend(),
  results,
};
writeFileSync(new URL('mlp-step.json', dir), `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${new URL('mlp-step.json', dir).pathname}`);
