// Train with forward(x, t, true), evaluate with forward(x, t, false): the loss in train mode, accuracy in test mode.
// Usage: npx tsx examples/control-flow/main.ts [--epochs 3] [--batchsize 100] [--limit N] [--seed 0]

import { parseArgs } from 'node:util';
import { F, optimizers, seed, training } from 'kusari';
import { getMnist } from '../mnist/data.js';
import { Net, forward } from './model.js';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    epochs: { type: 'string', default: '3' },
    batchsize: { type: 'string', default: '100' },
    limit: { type: 'string' },
    seed: { type: 'string', default: '0' },
  },
});
const int = (name: string, text: string | undefined, min: number) => {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) {
    console.error(`main: --${name} must be an integer >= ${min}, got '${text}'`);
    process.exit(2);
  }
  return v;
};
const epochs = int('epochs', values.epochs, 1), batchsize = int('batchsize', values.batchsize, 2);
const limit = values.limit === undefined ? undefined : int('limit', values.limit, 10);
seed(int('seed', values.seed, 0));

const [train, test] = getMnist({ seed: 0, limit });
const model = new Net();
const optimizer = new optimizers.Adam().setup(model);
const iter = new training.SerialIterator(train, batchsize);

while (iter.epoch < epochs) {
  const [x, t] = training.concatExamples(iter.next());
  const loss = forward(model, x, t, true);
  model.cleargrads();
  loss.backward();
  optimizer.update();
  if (iter.isNewEpoch) {
    console.log(`epoch ${iter.epoch}  train mode: loss ${(await loss.item()).toFixed(4)}`);
    const [tx, tt] = training.concatExamples(Array.from({ length: test.length }, (_, i) => test.get(i)));
    const { accuracy, prob } = forward(model, tx, tt, false);
    // how sure the model is: the probability of its chosen class, averaged over the test digits
    const confidence = await F.mean(F.max(prob, 1)).item();
    console.log(`epoch ${iter.epoch}  test mode: accuracy ${(100 * (await accuracy.item())).toFixed(2)}%  mean top probability ${confidence.toFixed(3)}  (${tt.shape[0]} digits)`);
  }
}
