// examples/fusion: train StripNet (LSTM cell + tanh-gated layers) on the embedded MNIST digits; the same source runs unfused (tsx) or fused (built).
// Usage: npx tsx examples/fusion/train.ts [--steps 200] [--batchsize 100] [--seed 0] [--device cpu|webgpu] [--strips 28] [--units 64] [--hidden 128]
// Fused, the same flags: node --import tsx bin/kusari.js fuse examples --out build/fused && npx tsx build/fused/fusion/train.ts (the CLI),
// or bundle it with kusari/rollup, or run it through the Node loader (transforms/README.md). npm run fusion builds both ways and compares.

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  NDArray, initWebGpu, noBackprop, optimizers, releaseWebGpu, scope, seed, testMode, training, F, type Device, type Variable,
} from 'kusari';
import { getMnist } from '../mnist/data.js';
import { StripNet } from './model.js';

export interface TrainOptions {
  device: Device;
  steps: number;
  batchsize: number;
  seed: number;
  /** the image is read in this many strips of 784 / strips pixels (a divisor of 784; 28: row by row, the sequential-MNIST LSTM) */
  strips: number;
  units: number;
  hidden: number;
}

export const DEFAULTS: TrainOptions = { device: 'cpu', steps: 200, batchsize: 100, seed: 0, strips: 28, units: 64, hidden: 128 };

/**
 * What the caller may wrap around each training step (the comparison job times and counts
 * it): `step` runs forward, backward and the update and resolves to the loss once the device
 * has finished them.
 */
export type AroundStep = (k: number, step: () => Promise<number>) => Promise<number>;

/** Train for `steps` minibatches; returns the model, its optimizer and the loss of each step. */
export async function train(opts: TrainOptions, around: AroundStep = (_, step) => step()) {
  seed(opts.seed);  // weights and batch order both come from the global stream
  const [trainSet, testSet] = getMnist({ seed: opts.seed });
  const model = new StripNet(784 / opts.strips, opts.units, opts.hidden);
  if (opts.device === 'webgpu') model.toGpu();
  const optimizer = new optimizers.Adam(0.002);
  optimizer.setup(model);
  const it = new training.SerialIterator(trainSet, opts.batchsize);
  const losses: number[] = [];
  for (let k = 0; k < opts.steps; k++) {
    const [x, t] = training.concatExamples(it.next());
    const strips = toStrips(x, opts.strips, opts.device), labels = t.to(opts.device);
    losses.push(await around(k, async () => {
      const loss = scope(() => {
        const l = model.forward(strips, labels);
        model.cleargrads();
        l.backward();
        optimizer.update();
        return l;
      });
      return loss.data.item();
    }));
  }
  return { model, optimizer, losses, testSet };
}

/** x (B, 784) on the host -> `n` arrays (B, 784 / n) on `device`: the rows of pixels the LSTM reads at each step. */
export function toStrips(x: NDArray, n: number, device: Device): NDArray[] {
  const [batch, pixels] = x.shape;
  const width = pixels / n, flat = x.toFlat();
  return Array.from({ length: n }, (_, s) => {
    const strip = new Float32Array(batch * width);
    for (let b = 0; b < batch; b++) strip.set(flat.subarray(b * pixels + s * width, b * pixels + (s + 1) * width), b * width);
    return new NDArray(strip, [batch, width]).to(device);
  });
}

/** Accuracy on (up to) the first `limit` test digits, in test mode without a graph. */
export async function accuracy(model: StripNet, testSet: training.Dataset<[NDArray, NDArray]>, opts: TrainOptions, limit = 1000): Promise<number> {
  const it = new training.SerialIterator(testSet, opts.batchsize, { repeat: false, shuffle: false });
  let right = 0, seen = 0;
  for (const batch of it) {
    if (seen >= limit) break;
    const [x, t] = training.concatExamples(batch);
    const strips = toStrips(x, opts.strips, opts.device);
    const y: Variable = testMode(() => noBackprop(() => model.scores(strips)));
    right += (await F.accuracy(y, t.to(opts.device)).data.item()) * t.shape[0];
    seen += t.shape[0];
  }
  return right / seen;
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.device === 'webgpu') await initWebGpu();
  const started = performance.now();
  const { model, losses, testSet } = await train(opts, async (k, step) => {
    const loss = await step();
    if (k % 20 === 0 || k === opts.steps - 1) console.log(`step ${k}  loss ${loss.toFixed(4)}`);
    return loss;
  });
  const acc = await accuracy(model, testSet, opts);
  console.log(`${losses.length} steps in ${((performance.now() - started) / 1000).toFixed(1)} s on ${opts.device}; test accuracy ${(100 * acc).toFixed(1)}% on 1000 held-out digits`);
  if (opts.device === 'webgpu') releaseWebGpu();  // Dawn keeps Node alive while a device lives
}

/** The command line, checked: a bad flag ends the program with a message saying what was expected. */
export function parseOptions(argv: string[]): TrainOptions {
  const flags = {
    steps: { type: 'string' }, batchsize: { type: 'string' }, seed: { type: 'string' }, device: { type: 'string' },
    strips: { type: 'string' }, units: { type: 'string' }, hidden: { type: 'string' },
  } as const;
  let values: Partial<Record<keyof typeof flags, string>>;
  try {
    values = parseArgs({ args: argv, options: flags }).values;
  } catch (e) {
    return fail((e as Error).message);
  }
  const int = (name: keyof typeof flags, min: number): number => {
    const text = values[name];
    if (text === undefined) return DEFAULTS[name as Exclude<keyof TrainOptions, 'device'>];
    const v = Number(text);
    if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer >= ${min}, got '${text}'`);
    return v;
  };
  const device = values.device ?? DEFAULTS.device;
  if (device !== 'cpu' && device !== 'webgpu') fail(`--device must be cpu or webgpu, got '${device}'`);
  const strips = int('strips', 1);
  if (784 % strips !== 0) fail(`--strips must divide 784 (the pixels of a digit), got ${strips}`);
  return { device, steps: int('steps', 1), batchsize: int('batchsize', 1), seed: int('seed', 0), strips, units: int('units', 1), hidden: int('hidden', 1) };
}

function fail(message: string): never {
  console.error(`train: ${message}`);
  process.exit(2);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
