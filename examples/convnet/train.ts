// A LeNet-style convnet on the MNIST digits (conv-pool-conv-pool-linear-linear), the same 8,000 / 2,000 split as examples/mnist.
// Usage: npx tsx examples/convnet/train.ts [--epochs 5] [--batchsize 100] [--seed 0] [--device cpu|webgpu] [--limit N]

import { parseArgs } from 'node:util';
import {
  F, L, initWebGpu, noBackprop, optimizers, releaseWebGpu, seed, testMode, training,
  type Device, type NDArray, type Variable, type VariableLike,
} from 'kusari';
import { getMnist } from '../mnist/data.js';

const FLAGS = {
  epochs: { type: 'string', default: '5' },
  batchsize: { type: 'string', default: '100' },
  seed: { type: 'string', default: '0' },
  device: { type: 'string', default: 'cpu' },
  limit: { type: 'string' },
} as const;

/** LeNet's layout, narrowed for a 2-core machine: 8 and 16 channels of 5x5, then 64 hidden units. */
class LeNet extends L.Chain {
  conv1 = new L.Convolution2D(1, 8, 5);    // (N, 1, 28, 28) -> (N, 8, 24, 24), pooled to 12 x 12
  conv2 = new L.Convolution2D(8, 16, 5);   // -> (N, 16, 8, 8), pooled to 4 x 4
  fc3 = new L.Linear(16 * 4 * 4, 64);
  fc4 = new L.Linear(64, 10);

  forward(x: VariableLike): Variable {
    const h1 = F.maxPooling2d(F.relu(this.conv1.forward(x)), 2);
    const h2 = F.maxPooling2d(F.relu(this.conv2.forward(h1)), 2);
    const h3 = F.relu(this.fc3.forward(h2));  // Linear flattens (N, 16, 4, 4) to (N, 256)
    return this.fc4.forward(h3);
  }
}

const opts = parseOptions(process.argv.slice(2));
seed(opts.seed);  // weight initialisation and batch order both come from the global stream

const [train, test] = getMnist({ seed: opts.seed, limit: opts.limit });
if (train.length < opts.batchsize) fail(`--batchsize ${opts.batchsize} exceeds the ${train.length} training digits; lower it or raise --limit`);
if (opts.device === 'webgpu') await initWebGpu();
const model = new LeNet();
if (opts.device === 'webgpu') model.toGpu();
const optimizer = new optimizers.Adam().setup(model);

const trainIter = new training.SerialIterator(train, opts.batchsize);
console.log(`${train.length} training and ${test.length} test digits, adam, batch ${opts.batchsize}, device ${opts.device}`);

/** (N, 784) flat digits as (N, 1, 28, 28) images. */
const images = (x: NDArray) => x.reshape([x.shape[0], 1, 28, 28]);

let lossSum = 0, seen = 0, trainMs = 0;
let accuracy = 0;
while (trainIter.epoch < opts.epochs) {
  const start = performance.now();
  const [x, t] = training.concatExamples(trainIter.next(), opts.device);
  const loss = F.softmaxCrossEntropy(model.forward(images(x)), t);
  model.cleargrads();
  loss.backward();
  optimizer.update();
  lossSum += (await loss.item()) * t.shape[0];
  seen += t.shape[0];
  trainMs += performance.now() - start;

  if (trainIter.isNewEpoch) {
    const result = await evaluate(model, test, opts.batchsize, opts.device);
    accuracy = result.accuracy;
    console.log([
      `epoch ${String(trainIter.epoch).padStart(2)}`,
      `train loss ${(lossSum / seen).toFixed(4)}`,
      `test loss ${result.loss.toFixed(4)}`,
      `test accuracy ${(100 * result.accuracy).toFixed(2)}%`,
      `${Math.round(seen / (trainMs / 1000))} samples/s`,
    ].join('  '));
    lossSum = 0; seen = 0; trainMs = 0;
  }
}
console.log(`final test accuracy ${(100 * accuracy).toFixed(2)}%`);
if (opts.device === 'webgpu') releaseWebGpu();  // Dawn keeps Node alive while a device lives

/** Mean loss and accuracy over a dataset, in test mode and without building a graph. */
async function evaluate(net: LeNet, data: training.Dataset<[NDArray, NDArray]>, batchSize: number, device: Device) {
  const parts = testMode(() => noBackprop(() => {
    const out: { loss: Variable; acc: Variable; n: number }[] = [];
    for (const batch of new training.SerialIterator(data, batchSize, { repeat: false })) {
      const [x, t] = training.concatExamples(batch, device);
      const y = net.forward(images(x));
      out.push({ loss: F.softmaxCrossEntropy(y, t), acc: F.accuracy(y, t), n: t.shape[0] });
    }
    return out;
  }));
  let lossSum = 0, hits = 0;
  for (const { loss, acc, n } of parts) {
    lossSum += (await loss.item()) * n;
    hits += (await acc.item()) * n;
  }
  return { loss: lossSum / data.length, accuracy: hits / data.length };
}

interface Options { epochs: number; batchsize: number; seed: number; device: Device; limit?: number }

/** The command line, checked: a bad flag ends the program with a message saying what was expected. */
function parseOptions(argv: string[]): Options {
  const values = (() => {
    try {
      return parseArgs({ args: argv, options: FLAGS }).values;
    } catch (e) {
      return fail((e as Error).message);
    }
  })();
  const int = (name: string, text: string, min: number) => {
    const v = Number(text);
    if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer >= ${min}, got '${text}'`);
    return v;
  };
  if (values.device !== 'cpu' && values.device !== 'webgpu') fail(`--device must be cpu or webgpu, got '${values.device}'`);
  return {
    epochs: int('epochs', values.epochs, 1),
    batchsize: int('batchsize', values.batchsize, 1),
    seed: int('seed', values.seed, 0),
    device: values.device,
    limit: values.limit === undefined ? undefined : int('limit', values.limit, 5),
  };
}

function fail(message: string): never {
  console.error(`train: ${message}`);
  process.exit(2);
}
