// Benchmark: median ms per MLP training step (forward, backward, SGD), kusari against TensorFlow.js and jax-js, on the CPU and WebGPU.
// Run from the repository root: npx tsx bench/mlp-step.ts [--devices cpu,webgpu] [--models 784-100-100-10,...] [--reps N] [--warmup N] [--settle-ms MS] [--burst N] [--timeout S]

import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { F, L, RandomState, array, optimizers, type Variable, type VariableLike } from 'kusari';
import {
  deviceHeading, eachDevice, errorText, finishBench, lossDrifts, peerVersions, positiveInt, printHeading, race, startBench,
  type Device, type Jax, type Warmup,
} from './harness.js';
import { dispatchStats } from '../runtime/array/cpu/kernels.js';
import { queueStats } from '../runtime/array/webgpu/queue.js';

const BENCH = 'mlp-step';
const BATCH = 100;
const CLASSES = 10;
const LR = 0.01;
/**
 * `warmup`: untimed steps first, enough for every library to reach the speed it keeps (harness.ts's
 * Warmup). The small model's step is a millisecond of work behind a few hundred short JS
 * functions, which V8 optimizes only after many calls: 200 rounds, then each library alone up
 * to 3000 steps or 5 s. kusari's CPU step climbs in two stages: alone, a median 1.76 ms over
 * steps 0-24 and 1.21 over 50-74 (most functions compiled), then the JS of each step keeps
 * shrinking for another thousand or two: the same step with 8 units a layer (nothing but its
 * JS) took a median 155-275 us over steps 200-300 and 50-90 us from step 2000 on. With 200
 * rounds only, the CPU ratio against jax-js jit measured 0.50-0.58 in 9 runs; with this
 * warm-up, 0.43-0.60 (median 0.48) in 21, jax-js jit's own median 2.8-3.1 ms either way.
 * The large model's step is its matrix products, tens of milliseconds in every library.
 *
 * `reps`: timed rounds. A small-model CPU step varies by a factor of 2 from one round to the
 * next on this shared machine: drawing 15 of the 81 rounds of one run (kusari/jax-js jit
 * 0.64 over all), the ratio fell between 0.57 and 0.74 in 90% of draws, drawing 41 between
 * 0.61 and 0.70. A median of 41 rounds costs a few seconds and moves half as much by chance.
 */
const MODELS = [
  { name: '784-100-100-10', sizes: [784, 100, 100, CLASSES], reps: 41, warmup: { rounds: 200, upTo: 3000, ms: 5000 } },
  { name: '784-1000-1000-10', sizes: [784, 1000, 1000, CLASSES], reps: 7, warmup: { rounds: 10 } },
];

/** The same batch for every library: inputs (BATCH, sizes[0]) and labels (BATCH,). */
interface Batch { x: Float32Array<ArrayBuffer>; t: Int32Array<ArrayBuffer> }

/**
 * One library's training loop on one model. `step` resolves with the loss only once the
 * step's work, the parameter update included, has finished on the device, so the clock
 * around it is honest.
 */
interface Trainer { step(): Promise<number>; dispose(): void; dispatches?(): Promise<number> }

/** A library on a device: builds a Trainer for a model. */
interface Contender { name: string; setup(sizes: readonly number[], data: Batch): Promise<Trainer> }

/**
 * LeCun-normal weights (in, out), as the peers multiply them, and zero biases: kusari's Linear
 * defaults. Every library starts from these, so all losses should agree step by step.
 */
function initialWeights(sizes: readonly number[], seed: number): { W: Float32Array<ArrayBuffer>; b: Float32Array<ArrayBuffer> }[] {
  const rng = new RandomState(seed);
  return sizes.slice(1).map((out, k) => ({
    W: Float32Array.from({ length: sizes[k] * out }, () => rng.normal() * Math.sqrt(1 / sizes[k])),
    b: new Float32Array(out),
  }));
}

// ---- kusari ---------------------------------------------------------------------------------

class MLP extends L.Chain {
  l1: L.Linear; l2: L.Linear; l3: L.Linear;
  constructor(sizes: readonly number[]) {
    super();
    const weights = initialWeights(sizes, 1);
    // Linear keeps W as (out, in): transpose the peers' (in, out)
    const layer = (k: number) => {
      const [n, m] = [sizes[k], sizes[k + 1]], W = weights[k].W;
      const Wt = Float32Array.from({ length: n * m }, (_, q) => W[(q % n) * m + Math.floor(q / n)]);
      return new L.Linear(n, m, { initialW: () => array(Wt, [m, n]) });
    };
    this.l1 = layer(0);
    this.l2 = layer(1);
    this.l3 = layer(2);
  }
  forward(x: VariableLike): Variable {
    // the hidden layers' relu rides in the matmul kernel with the bias (linear's epilogue)
    const relu = (l: L.Linear, h: VariableLike) => F.linear(h, l.W, l.b!, { activation: 'relu' });
    return this.l3.forward(relu(this.l2, relu(this.l1, x)));
  }
}

const kusari = (device: Device): Contender => ({
  name: 'kusari',
  async setup(sizes, data) {
    let x = array(data.x, [BATCH, sizes[0]]), t = array(data.t, [BATCH]);
    const model = new MLP(sizes);
    if (device === 'webgpu') {
      x = x.toGpu();
      t = t.toGpu();
      model.toGpu();
    }
    const optimizer = new optimizers.SGD(LR);
    optimizer.setup(model);
    const step = () => {
      const loss = F.softmaxCrossEntropy(model.forward(x), t);
      model.cleargrads();
      loss.backward();
      optimizer.update();
      return loss.item();  // on the GPU: flushes the batched step and waits for it
    };
    return {
      step,
      /** kernel launches in one step (CPU: WebAssembly/JS kernels; WebGPU: recorded dispatches) */
      async dispatches() {
        const count = () => (device === 'cpu' ? dispatchStats.count : queueStats.dispatches);
        const before = count();
        await step();
        return count() - before;
      },
      dispose() {},
    };
  },
});

// ---- TensorFlow.js ----------------------------------------------------------------------------

const tfjs: Contender = {
  name: 'tfjs',
  async setup(sizes, data) {
    const xs = tf.tensor2d(data.x, [BATCH, sizes[0]]);
    const labels = tf.tensor1d(data.t, 'int32');
    const onehot = tf.oneHot(labels, CLASSES);
    const layers = initialWeights(sizes, 1).map(({ W, b }, k) => ({
      W: tf.variable(tf.tensor2d(W, [sizes[k], sizes[k + 1]])),
      b: tf.variable(tf.tensor1d(b)),
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
    return {
      async step() {
        const loss = optimizer.minimize(lossFn, true)!;
        // on webgpu, reading submits the recorded step (the variable updates came before the read)
        const value = (await loss.data())[0];
        loss.dispose();
        return value;
      },
      dispose() {
        tf.dispose([xs, labels, onehot]);
        optimizer.dispose();
        for (const { W, b } of layers) tf.dispose([W, b]);
      },
    };
  },
};

// ---- jax-js (its CPU device is WebAssembly; on the GPU, WebGPU) -------------------------------

type JaxArray = import('@jax-js/jax').Array;
type Params = { W: JaxArray; b: JaxArray }[];

/**
 * jax-js, eager or under `jit` (one traced step: loss, gradients and the SGD update).
 * Arrays are reference-counted: every use consumes one reference, so reused arrays pass `.ref`.
 */
const jaxJs = (jax: Jax, jitted: boolean): Contender => ({
  name: jitted ? 'jax-js jit' : 'jax-js',
  async setup(sizes, data) {
    const { numpy: np, nn, tree } = jax;
    const x = np.array(data.x).reshape([BATCH, sizes[0]]);
    const onehot = nn.oneHot(np.array(data.t, { dtype: np.int32 }), CLASSES);
    let params: Params = initialWeights(sizes, 1).map(({ W, b }, k) => ({
      W: np.array(W).reshape([sizes[k], sizes[k + 1]]),
      b: np.array(b),
    }));
    const loss = (p: Params, xb: JaxArray, yb: JaxArray): JaxArray => {
      let h = xb;
      p.forEach(({ W, b }, k) => {
        h = np.matmul(h, W).add(b);
        if (k < p.length - 1) h = nn.relu(h);
      });
      return nn.logSoftmax(h).mul(yb).sum().mul(-1 / BATCH);
    };
    const update = (p: Params, xb: JaxArray, yb: JaxArray): [JaxArray, Params] => {
      const [value, grads] = jax.valueAndGrad(loss)(tree.ref(p), xb, yb);
      return [value, tree.map((w: JaxArray, g: JaxArray) => w.sub(g.mul(LR)), p, grads) as Params];
    };
    const compiled = jitted ? jax.jit(update) : null;
    const run = compiled ?? update;
    return {
      async step() {
        const [value, next] = run(params, x.ref, onehot.ref);
        params = next;
        // jax-js is lazy: wait for the new parameters too, or their work would slip into the next step
        const [read] = await Promise.all([value.data(), jax.blockUntilReady(params)]);
        return read[0];
      },
      dispose() {
        tree.dispose(params);
        x.dispose();
        onehot.dispose();
        compiled?.dispose();
      },
    };
  },
});

// ---- the run --------------------------------------------------------------------------------

interface Row {
  device: Device;
  model: string;
  batch: number;
  reps: number;
  warmup: Warmup;
  /** the untimed steps each library took before timing (Warmup's rounds, then alone up to its upTo or ms) */
  untimed: Record<string, number>;
  /** steps in a row per library and round, the first untimed (1: one step each, all timed) */
  burst: number;
  /** median ms per step, by library; absent where the library failed */
  medianMs: Record<string, number>;
  /**
   * median CPU ms of the whole process per step (every thread, lavapipe's included): the work
   * done, which other load on the machine disturbs far less than the wall clock
   */
  medianCpuMs: Record<string, number>;
  /** kusari's median over the fastest peer's: below 1, kusari is faster */
  ratio: number | null;
  fastestPeer: string | null;
  /** the first line of the error, by library that failed */
  errors: Record<string, string>;
  samplesMs: Record<string, number[]>;
  samplesCpuMs: Record<string, number[]>;
  /** every library fits the same fixed batch, so losses should fall from about ln(10) */
  lossFirstLast: Record<string, [number, number]>;
  /** kusari's kernel launches in one step */
  kusariDispatches: number | null;
}

/** Build every contender's trainer, warm up, then time steps in rotating order. */
async function measure(device: Device, model: (typeof MODELS)[number], contenders: readonly Contender[], reps: number, warmup: Warmup, burst: number): Promise<Row> {
  const rng = new RandomState(0);
  const data = {
    x: Float32Array.from({ length: BATCH * model.sizes[0] }, () => rng.normal()),
    t: Int32Array.from({ length: BATCH }, () => rng.nextU32() % CLASSES),
  };
  let kusariDispatches: number | null = null;
  const result = await race(contenders.map((c) => ({ name: c.name, setup: () => c.setup(model.sizes, data) })), warmup, reps, async (trainers, errors) => {
    try {
      kusariDispatches = (await trainers.get('kusari')?.dispatches?.()) ?? null;
    } catch (e) {
      errors.kusari ??= `dispatch count: ${errorText(e)}`;
    }
  }, burst);
  return { device, model: model.name, batch: BATCH, reps, warmup, burst, ...result, kusariDispatches };
}

/** Peers that could not start on a device, with the first line of their error. */
const unavailable: string[] = [];

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: 'cpu,webgpu' },
    models: { type: 'string', default: MODELS.map((m) => m.name).join(',') },
    reps: { type: 'string' },
    // default: each model's own (MODELS)
    warmup: { type: 'string' },
    'settle-ms': { type: 'string' },
    burst: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '1800' },
  },
});
const models = values.models.split(',').map((name) => {
  const model = MODELS.find((m) => m.name === name);
  if (model === undefined) throw new Error(`${BENCH}: unknown model '${name}' in --models; expected some of ${MODELS.map((m) => m.name).join(', ')}`);
  return model;
});
const burst = positiveInt(BENCH, 'burst', values.burst);
const { devices, gpu, loadBefore } = await startBench(BENCH, values);
const rows: Row[] = [];
await eachDevice(devices, gpu, { kusari, tfjs, jax: (jax) => [jaxJs(jax, false), jaxJs(jax, true)] }, unavailable, async (device, contenders) => {
  for (const model of models) {
    const reps = values.reps === undefined ? model.reps : positiveInt(BENCH, 'reps', values.reps);
    // --warmup sets the rounds, --settle-ms the time each library then settles alone (0: none, as before)
    let warmup: Warmup = values.warmup === undefined ? model.warmup : { ...model.warmup, rounds: positiveInt(BENCH, 'warmup', values.warmup) };
    if (values['settle-ms'] !== undefined) warmup = { ...warmup, ms: positiveInt(BENCH, 'settle-ms', values['settle-ms'], 0) };
    rows.push(await measure(device, model, contenders, reps, warmup, burst));
  }
});

// ---- the report -----------------------------------------------------------------------------

const versions = peerVersions(devices);
const warmupText = ({ rounds, upTo, ms }: Warmup) => (upTo === undefined || !ms ? `${rounds}` : `${rounds} rounds, then each library alone up to ${upTo} steps or ${ms / 1000} s`);
const warmups = [...new Set(rows.map((r) => `${warmupText(r.warmup)} (${r.model})`))].join('; ');
const bursts = burst === 1 ? 'one step per library in turn' : `${burst} steps in a row per library in turn, the first untimed`;
printHeading(`MLP training step (forward + backward + SGD update), batch ${BATCH}: median ms per step (${bursts}) after warm-up steps: ${warmups}`, versions);
for (const device of devices) {
  const mine = rows.filter((r) => r.device === device);
  const names = [...new Set(mine.flatMap((r) => [...Object.keys(r.medianMs), ...Object.keys(r.errors)]))];
  console.log(deviceHeading(device, gpu));
  console.log(['model'.padEnd(18), 'reps'.padStart(5), ...names.map((n) => `${n} ms`.padStart(14)), 'kusari/fastest peer'.padStart(28)].join(''));
  for (const r of mine) {
    const cells = names.map((n) => (r.medianMs[n] !== undefined ? r.medianMs[n].toFixed(2) : 'failed').padStart(14));
    const ratio = r.ratio === null ? '-' : `${r.ratio.toFixed(2)} (${r.fastestPeer})`;
    console.log([r.model.padEnd(18), String(r.reps).padStart(5), ...cells, ratio.padStart(28)].join(''));
  }
  console.log('process CPU ms per step (all threads; other load on the machine disturbs it less):');
  for (const r of mine) {
    const cells = names.map((n) => (r.medianCpuMs[n] !== undefined ? r.medianCpuMs[n].toFixed(0) : '-').padStart(14));
    console.log([r.model.padEnd(23), ...cells].join(''));
  }
  for (const r of mine) console.log(`kusari dispatches per step, ${r.model}: ${r.kusariDispatches ?? '-'}`);
  for (const r of mine) console.log(`warm-up steps per library, ${r.model}: ${Object.entries(r.untimed).map(([n, k]) => `${n} ${k}`).join(', ')}`);
}
const failures = rows.flatMap((r) => Object.entries(r.errors).map(([n, e]) => `${r.device} ${r.model} ${n}: ${e}`));
const drifts = rows.flatMap((r) => lossDrifts(`${r.device} ${r.model}`, r.lossFirstLast));
finishBench(BENCH, { loadBefore, versions, gpu, unavailable, problems: [...failures, ...drifts], results: rows, extra: { tfjsCpuBackend: 'cpu' } });
