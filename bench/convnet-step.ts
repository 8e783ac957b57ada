// Benchmark: median ms per LeNet-style training step (conv-relu-pool x2, linear-relu-linear, Adam; batch 100), kusari against TensorFlow.js and jax-js, on the CPU and WebGPU.
// Run from the repository root: npx tsx bench/convnet-step.ts [--devices cpu,webgpu] [--reps N] [--warmup N] [--timeout S]

import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { F, L, RandomState, array, optimizers, type NDArray, type Variable } from 'kusari';
import {
  deviceHeading, eachDevice, finishBench, lossDrifts, peerVersions, positiveInt, printHeading, race, startBench,
  type Device, type Jax,
} from './harness.js';

const BENCH = 'convnet-step';
const BATCH = 100;
const CLASSES = 10;
/** Adam, Chainer's defaults (TensorFlow.js's and the jax-js step below use the same rule). */
const ADAM = { alpha: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const MODEL = 'conv20-conv50-500-10';

interface Batch { x: Float32Array<ArrayBuffer>; t: Int32Array<ArrayBuffer> }
interface Trainer { step(): Promise<number>; dispose(): void }
interface Contender { name: string; setup(data: Batch): Promise<Trainer> }

/**
 * LeCun-normal weights, zero biases, in Chainer's layouts: conv W (out, in, kh, kw), linear
 * W (out, in). Every library starts from these, so losses agree step by step.
 */
function initialWeights(seed: number): { name: string; shape: number[]; data: Float32Array<ArrayBuffer> }[] {
  const rng = new RandomState(seed);
  const weight = (name: string, shape: number[], fanIn: number) => ({ name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal() * Math.sqrt(1 / fanIn)) });
  const bias = (name: string, n: number) => ({ name, shape: [n], data: new Float32Array(n) });
  return [
    weight('W1', [20, 1, 5, 5], 25), bias('b1', 20),
    weight('W2', [50, 20, 5, 5], 500), bias('b2', 50),
    weight('W3', [500, 800], 800), bias('b3', 500),
    weight('W4', [10, 500], 500), bias('b4', 10),
  ];
}

/** (a, b, c, d) row-major to the order `perm` of its axes. */
function permute(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array<ArrayBuffer> {
  const out = new Float32Array(data.length);
  const to = perm.map((p) => shape[p]);
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const idx = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let r = o, src = 0;
    for (let d = to.length - 1; d >= 0; d--) { idx[d] = r % to[d]; r = Math.floor(r / to[d]); }
    perm.forEach((p, d) => (src += idx[d] * strides[p]));
    out[o] = data[src];
  }
  return out;
}

// ---- kusari ---------------------------------------------------------------------------------

class LeNet extends L.Link {
  W1: L.Parameter; b1: L.Parameter; W2: L.Parameter; b2: L.Parameter;
  W3: L.Parameter; b3: L.Parameter; W4: L.Parameter; b4: L.Parameter;
  constructor() {
    super();
    const p = Object.fromEntries(initialWeights(1).map(({ name, shape, data }) => [name, new L.Parameter(array(data, shape))]));
    this.W1 = p.W1; this.b1 = p.b1; this.W2 = p.W2; this.b2 = p.b2;
    this.W3 = p.W3; this.b3 = p.b3; this.W4 = p.W4; this.b4 = p.b4;
  }
  forward(x: NDArray): Variable {
    const h1 = F.maxPooling2d(F.relu(F.convolution2d(x, this.W1, this.b1)), 2);
    const h2 = F.maxPooling2d(F.relu(F.convolution2d(h1, this.W2, this.b2)), 2);
    return F.linear(F.relu(F.linear(h2, this.W3, this.b3)), this.W4, this.b4);
  }
}

const kusari = (device: Device): Contender => ({
  name: 'kusari',
  async setup(data) {
    const x = array(data.x, [BATCH, 1, 28, 28]).to(device), t = array(data.t, [BATCH]).to(device);
    const model = new LeNet();
    if (device === 'webgpu') model.toGpu();
    const optimizer = new optimizers.Adam(ADAM.alpha, ADAM.beta1, ADAM.beta2, ADAM.eps);
    optimizer.setup(model);
    return {
      async step() {
        const loss = F.softmaxCrossEntropy(model.forward(x), t);
        model.cleargrads();
        loss.backward();
        optimizer.update();
        return loss.item();
      },
      dispose() {},
    };
  },
});

// ---- TensorFlow.js (NHWC, as its CPU backend requires) -----------------------------------------

const tfjs: Contender = {
  name: 'tfjs',
  async setup(data) {
    const xs = tf.tensor4d(data.x, [BATCH, 28, 28, 1]); // one channel: NCHW and NHWC hold the same bytes
    const onehot = tf.oneHot(tf.tensor1d(data.t, 'int32'), CLASSES);
    const w = Object.fromEntries(initialWeights(1).map(({ name, shape, data: d }) => {
      // conv W (out, in, kh, kw) -> (kh, kw, in, out); linear W (out, in) -> (in, out)
      const t = shape.length === 4 ? tf.tensor4d(permute(d, shape, [2, 3, 1, 0]), [shape[2], shape[3], shape[1], shape[0]])
        : shape.length === 2 ? tf.tensor2d(permute(d, shape, [1, 0]), [shape[1], shape[0]]) : tf.tensor1d(d);
      return [name, tf.variable(t)];
    }));
    const optimizer = tf.train.adam(ADAM.alpha, ADAM.beta1, ADAM.beta2, ADAM.eps);
    const lossFn = () => {
      const h1 = tf.maxPool(tf.relu(tf.add(tf.conv2d(xs, w.W1 as tf.Tensor4D, 1, 'valid'), w.b1)) as tf.Tensor4D, 2, 2, 'valid');
      const h2 = tf.maxPool(tf.relu(tf.add(tf.conv2d(h1, w.W2 as tf.Tensor4D, 1, 'valid'), w.b2)) as tf.Tensor4D, 2, 2, 'valid');
      // flatten in Chainer's (C, H, W) order, so W3 is the same matrix
      const flat = tf.reshape(tf.transpose(h2, [0, 3, 1, 2]), [BATCH, 800]);
      const h3 = tf.relu(tf.add(tf.matMul(flat, w.W3 as tf.Tensor2D), w.b3));
      return tf.losses.softmaxCrossEntropy(onehot, tf.add(tf.matMul(h3, w.W4 as tf.Tensor2D), w.b4)) as tf.Scalar;
    };
    return {
      async step() {
        const loss = optimizer.minimize(lossFn, true)!;
        const value = (await loss.data())[0];
        loss.dispose();
        return value;
      },
      dispose() {
        tf.dispose([xs, onehot]);
        optimizer.dispose();
        tf.dispose(Object.values(w));
      },
    };
  },
};

// ---- jax-js (lax.conv; max pooling as a reshape and a max over the window axes) --------------

type JaxArray = import('@jax-js/jax').Array;
type Params = Record<string, JaxArray>;

const jaxJs = (jax: Jax, jitted: boolean): Contender => ({
  name: jitted ? 'jax-js jit' : 'jax-js',
  async setup(data) {
    const { numpy: np, nn, tree, lax } = jax;
    const x = np.array(data.x).reshape([BATCH, 1, 28, 28]);
    const onehot = nn.oneHot(np.array(data.t, { dtype: np.int32 }), CLASSES);
    let params: Params = Object.fromEntries(initialWeights(1).map(({ name, shape, data: d }) => [name, np.array(d).reshape(shape)]));
    let m: Params = tree.map((p: JaxArray) => np.zerosLike(p), tree.ref(params)) as Params;
    let v: Params = tree.map((p: JaxArray) => np.zerosLike(p), tree.ref(params)) as Params;
    const pool2 = (h: JaxArray, c: number, s: number) => h.reshape([BATCH, c, s / 2, 2, s / 2, 2]).max([3, 5]);
    const loss = (p: Params, xb: JaxArray, yb: JaxArray): JaxArray => {
      const h1 = pool2(nn.relu(lax.conv(xb, p.W1, [1, 1], 'VALID').add(p.b1.reshape([1, 20, 1, 1]))), 20, 24);
      const h2 = pool2(nn.relu(lax.conv(h1, p.W2, [1, 1], 'VALID').add(p.b2.reshape([1, 50, 1, 1]))), 50, 8);
      const h3 = nn.relu(np.matmul(h2.reshape([BATCH, 800]), p.W3.transpose()).add(p.b3));
      const y = np.matmul(h3, p.W4.transpose()).add(p.b4);
      return nn.logSoftmax(y).mul(yb).sum().mul(-1 / BATCH);
    };
    let t = 0;
    const update = (p: Params, ms: Params, vs: Params, lr: JaxArray, xb: JaxArray, yb: JaxArray): [JaxArray, Params, Params, Params] => {
      const [value, grads] = jax.valueAndGrad(loss)(tree.ref(p), xb, yb);
      const g2 = tree.ref(grads) as Params;
      const mNew = tree.map((mi: JaxArray, g: JaxArray) => mi.add(g.sub(mi.ref).mul(1 - ADAM.beta1)), ms, grads) as Params;
      const vNew = tree.map((vi: JaxArray, g: JaxArray) => vi.add(g.ref.mul(g).sub(vi.ref).mul(1 - ADAM.beta2)), vs, g2) as Params;
      const pNew = tree.map((w: JaxArray, mi: JaxArray, vi: JaxArray) => w.sub(lr.ref.mul(mi).div(np.sqrt(vi).add(ADAM.eps))), p, tree.ref(mNew), tree.ref(vNew)) as Params;
      lr.dispose();
      return [value, pNew, mNew, vNew];
    };
    const compiled = jitted ? jax.jit(update) : null;
    const run = compiled ?? update;
    return {
      async step() {
        t++;
        const lr = np.array([(ADAM.alpha * Math.sqrt(1 - ADAM.beta2 ** t)) / (1 - ADAM.beta1 ** t)]).reshape([]);
        const [value, p, mm, vv] = run(params, m, v, lr, x.ref, onehot.ref);
        params = p; m = mm; v = vv;
        const [read] = await Promise.all([value.data(), jax.blockUntilReady([params, m, v])]);
        return read[0];
      },
      dispose() {
        tree.dispose([params, m, v]);
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
  warmup: number;
  medianMs: Record<string, number>;
  medianCpuMs: Record<string, number>;
  /** kusari's median over the fastest peer's: below 1, kusari is faster */
  ratio: number | null;
  fastestPeer: string | null;
  errors: Record<string, string>;
  samplesMs: Record<string, number[]>;
  samplesCpuMs: Record<string, number[]>;
  lossFirstLast: Record<string, [number, number]>;
}

async function measure(device: Device, contenders: readonly Contender[], reps: number, warmup: number): Promise<Row> {
  const rng = new RandomState(0);
  const data = {
    x: Float32Array.from({ length: BATCH * 28 * 28 }, () => rng.uniform()),
    t: Int32Array.from({ length: BATCH }, () => rng.nextU32() % CLASSES),
  };
  const result = await race(contenders.map((c) => ({ name: c.name, setup: () => c.setup(data) })), warmup, reps);
  return { device, model: MODEL, batch: BATCH, reps, warmup, ...result };
}

const unavailable: string[] = [];
const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: 'cpu,webgpu' },
    reps: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '1800' },
  },
});
const reps = positiveInt(BENCH, 'reps', values.reps), warmup = positiveInt(BENCH, 'warmup', values.warmup);
const { devices, gpu, loadBefore } = await startBench(BENCH, values);
const rows: Row[] = [];
await eachDevice(devices, gpu, { kusari, tfjs, jax: (jax) => [jaxJs(jax, false), jaxJs(jax, true)] }, unavailable, async (device, contenders) => {
  rows.push(await measure(device, contenders, reps, warmup));
});

const versions = peerVersions(devices);
printHeading(`LeNet-style training step (${MODEL}, Adam), batch ${BATCH}: median ms per step over ${reps} steps after ${warmup} warm-up steps`, versions);
for (const device of devices) {
  const mine = rows.filter((r) => r.device === device);
  const names = [...new Set(mine.flatMap((r) => [...Object.keys(r.medianMs), ...Object.keys(r.errors)]))];
  console.log(deviceHeading(device, gpu));
  console.log(['model'.padEnd(22), ...names.map((n) => `${n} ms`.padStart(14)), 'kusari/fastest peer'.padStart(28)].join(''));
  for (const r of mine) {
    const cells = names.map((n) => (r.medianMs[n] !== undefined ? r.medianMs[n].toFixed(2) : 'failed').padStart(14));
    const ratio = r.ratio === null ? '-' : `${r.ratio.toFixed(2)} (${r.fastestPeer})`;
    console.log([r.model.padEnd(22), ...cells, ratio.padStart(28)].join(''));
  }
}
const failures = rows.flatMap((r) => Object.entries(r.errors).map(([n, e]) => `${r.device} ${n}: ${e}`));
const drifts = rows.flatMap((r) => lossDrifts(r.device, r.lossFirstLast));
finishBench(BENCH, { loadBefore, versions, gpu, unavailable, problems: [...failures, ...drifts], results: rows, extra: { tfjsCpuBackend: 'cpu' } });
