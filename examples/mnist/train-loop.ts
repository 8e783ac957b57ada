// Chainer's multilayer perceptron on MNIST (slide 26) with the hand-written training loop: 784-100-100-10, ReLU, softmax cross entropy.
// Usage: npx tsx examples/mnist/train-loop.ts [--optimizer adam|sgd] [--epochs 20] [--batchsize 100]
//        [--seed 0] [--device cpu|webgpu] [--limit N]   (--limit trains and tests on N of the digits)

import { parseArgs } from 'node:util';
import {
  F, L, initWebGpu, noBackprop, optimizers, releaseWebGpu, seed, testMode, training,
  type Device, type NDArray, type Variable, type VariableLike,
} from 'kusari';
import { getMnist } from './data.js';

const FLAGS = {
  optimizer: { type: 'string', default: 'adam' },
  epochs: { type: 'string', default: '20' },
  batchsize: { type: 'string', default: '100' },
  seed: { type: 'string', default: '0' },
  device: { type: 'string', default: 'cpu' },
  limit: { type: 'string' },
} as const;

class MLP extends L.Chain {
  l1 = new L.Linear(784, 100);
  l2 = new L.Linear(100, 100);
  l3 = new L.Linear(100, 10);

  forward(x: VariableLike): Variable {
    const h1 = F.relu(this.l1.forward(x));
    const h2 = F.relu(this.l2.forward(h1));
    return this.l3.forward(h2);
  }
}

const opts = parseOptions(process.argv.slice(2));
seed(opts.seed);  // weight initialisation and batch order both come from the global stream

const [train, test] = getMnist({ seed: opts.seed, limit: opts.limit });
if (train.length < opts.batchsize) fail(`--batchsize ${opts.batchsize} exceeds the ${train.length} training digits; lower it or raise --limit`);
if (opts.device === 'webgpu') await initWebGpu();
const model = new MLP();
if (opts.device === 'webgpu') model.toGpu();
// SGD's default rate (0.01) is too slow for 20 epochs here; 0.1 trains this net well
const optimizer = opts.optimizer === 'adam' ? new optimizers.Adam() : new optimizers.SGD(0.1);
optimizer.setup(model);

const trainIter = new training.SerialIterator(train, opts.batchsize);
console.log(`${train.length} training and ${test.length} test digits, ${opts.optimizer}, batch ${opts.batchsize}, device ${opts.device}`);

let lossSum = 0, seen = 0, trainMs = 0;
let accuracy = 0;
while (trainIter.epoch < opts.epochs) {
  const start = performance.now();
  const [x, t] = training.concatExamples(trainIter.next(), opts.device);
  const loss = F.softmaxCrossEntropy(model.forward(x), t);
  model.cleargrads();
  loss.backward();
  optimizer.update();
  lossSum += (await loss.item()) * t.shape[0];  // reading a value is async: on a GPU it waits for the step
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
async function evaluate(net: MLP, data: training.Dataset<[NDArray, NDArray]>, batchSize: number, device: Device) {
  // The graph-free forward runs synchronously; the per-batch values are read afterwards.
  const parts = testMode(() => noBackprop(() => {
    const out: { loss: Variable; acc: Variable; n: number }[] = [];
    for (const batch of new training.SerialIterator(data, batchSize, { repeat: false })) {
      const [x, t] = training.concatExamples(batch, device);
      const y = net.forward(x);
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

interface Options { optimizer: 'adam' | 'sgd'; epochs: number; batchsize: number; seed: number; device: Device; limit?: number }

/** The command line, checked: a bad flag ends the program with a message saying what was expected. */
function parseOptions(argv: string[]): Options {
  const values = (() => {
    try {
      return parseArgs({ args: argv, options: FLAGS }).values;
    } catch (e) {
      return fail((e as Error).message);  // an unknown flag or a missing value: a message, not a stack trace
    }
  })();
  const int = (name: string, text: string, min: number) => {
    const v = Number(text);
    if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer >= ${min}, got '${text}'`);
    return v;
  };
  if (values.optimizer !== 'adam' && values.optimizer !== 'sgd') fail(`--optimizer must be adam or sgd, got '${values.optimizer}'`);
  if (values.device !== 'cpu' && values.device !== 'webgpu') fail(`--device must be cpu or webgpu, got '${values.device}'`);
  return {
    optimizer: values.optimizer,
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
