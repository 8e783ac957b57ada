// Chainer's PTB word-level LSTM language model, on the Brown Corpus: embedding, LSTM, linear; truncated BPTT.
// Usage: npx tsx examples/ptb/train.ts [--epochs 5] [--units 64] [--batchsize 20] [--bptt 35]
//        [--train-tokens 120000] [--eval-tokens 10000] [--lr 1] [--gradclip 5] [--dropout 0.5]
//        [--seed 0] [--device cpu|webgpu]
//        diagnostics, to compare with reference.py: [--save-init init.npz] (the initial weights,
//        which reference.py --init loads) [--trace N] (per update: loss, gradient norm before
//        clipping, the scale the update applied; stops after N updates) [--eval-every K]
//        [--dtype float64] (the same initial weights, then every computation, in float64)

import { parseArgs } from 'node:util';
import {
  F, L, NDArray, array, initWebGpu, noBackprop, optimizers, randomUniform, releaseWebGpu, seed, serializers, testMode,
  type Device, type Variable,
} from 'kusari';
import { VOCAB_SIZE, loadCorpus } from './data.js';

const FLAGS = {
  epochs: { type: 'string', default: '5' },
  units: { type: 'string', default: '64' },
  batchsize: { type: 'string', default: '20' },
  bptt: { type: 'string', default: '35' },
  'train-tokens': { type: 'string', default: '120000' },
  'eval-tokens': { type: 'string', default: '10000' },
  lr: { type: 'string', default: '1' },
  gradclip: { type: 'string', default: '5' },
  dropout: { type: 'string', default: '0.5' },
  seed: { type: 'string', default: '0' },
  device: { type: 'string', default: 'cpu' },
  dtype: { type: 'string', default: 'float32' },
  'save-init': { type: 'string' },
  trace: { type: 'string', default: '0' },
  'eval-every': { type: 'string', default: '0' },
} as const;

/** Chainer's RNNLM with one LSTM layer: ids -> embedding -> dropout -> LSTM -> dropout -> scores. */
class RNNLM extends L.Chain {
  embed: L.EmbedID;
  rnn: L.LSTM;
  out: L.Linear;

  constructor(vocab: number, units: number, readonly dropout: number, dtype: 'float32' | 'float64') {
    super();
    this.embed = new L.EmbedID(vocab, units);
    this.rnn = new L.LSTM(units, units);
    this.out = new L.Linear(units, vocab);
    // as Chainer's example does: every parameter drawn from U(-0.1, 0.1)
    // drawn in float32 whatever the dtype, so that --dtype float64 starts from the float32 run's weights
    for (const p of this.params()) p.data = array(randomUniform(p.shape, -0.1, 0.1).dataSync(), p.shape, dtype);
  }

  resetState(): void { this.rnn.resetState(); }

  forward(x: NDArray): Variable {
    const h0 = F.dropout(this.embed.forward(x), this.dropout);
    const h1 = this.rnn.forward(h0);
    return this.out.forward(F.dropout(h1, this.dropout));
  }
}

const opts = parseOptions(process.argv.slice(2));
seed(opts.seed);

const loadStart = performance.now();
const corpus = loadCorpus();
const train = corpus.train.subarray(0, opts.trainTokens);
const valid = corpus.valid.subarray(0, opts.evalTokens), test = corpus.test.subarray(0, opts.evalTokens);
console.log(`Brown Corpus: ${corpus.train.length} / ${corpus.valid.length} / ${corpus.test.length} tokens in ${corpus.files.train} / ${corpus.files.valid} / ${corpus.files.test} files, vocabulary ${VOCAB_SIZE} (${Math.round(performance.now() - loadStart)} ms)`);
console.log(`using ${train.length} training and ${valid.length} / ${test.length} validation / test tokens; units ${opts.units}, batch ${opts.batchsize}, bptt ${opts.bptt}, device ${opts.device}`);

if (opts.device === 'webgpu') await initWebGpu();
const model = new RNNLM(VOCAB_SIZE, opts.units, opts.dropout, opts.dtype);
if (opts.device === 'webgpu') model.toGpu();
if (opts.saveInit !== undefined) await serializers.saveNpz(opts.saveInit, model);
const optimizer = new optimizers.SGD(opts.lr).setup(model);
optimizer.addHook(new optimizers.GradientClipping(opts.gradclip));

let updates = 0;
for (let epoch = 1; epoch <= opts.epochs; epoch++) {
  const start = performance.now();
  const trainPerplexity = await runEpoch(train, true);
  const seconds = (performance.now() - start) / 1000;
  const validPerplexity = await runEpoch(valid, false);
  console.log(`epoch ${epoch}  train perplexity ${trainPerplexity.toFixed(2)}  validation perplexity ${validPerplexity.toFixed(2)}  ${seconds.toFixed(1)} s/epoch  ${Math.round(train.length / seconds)} tokens/s`);
}
console.log(`test perplexity ${(await runEpoch(test, false)).toFixed(2)}`);
if (opts.device === 'webgpu') releaseWebGpu();  // Dawn keeps Node alive while a device lives

/** The parameters and their gradients, read before an update (for --trace; Float64Array holds either dtype exactly). */
async function snapshot(): Promise<{ w: Float64Array[]; g: Float64Array[] }> {
  const ps = [...model.params()];
  return {
    w: await Promise.all(ps.map(async (p) => Float64Array.from(await p.data.data()))),
    g: await Promise.all(ps.map(async (p) => Float64Array.from(await p.grad!.data()))),
  };
}

/**
 * One --trace line: the loss, the gradients' global L2 norm before clipping, and the scale the
 * update actually applied, measured from the weights (W_new = W - lr scale g), so it checks
 * GradientClipping and SGD rather than restating them. Sums in float64.
 */
async function trace(before: { w: Float64Array[]; g: Float64Array[] }, loss: number): Promise<void> {
  const ps = [...model.params()];
  let gg = 0, dg = 0;
  for (let k = 0; k < ps.length; k++) {
    const w = await ps[k].data.data(), w0 = before.w[k], g = before.g[k];
    for (let i = 0; i < g.length; i++) { gg += g[i] * g[i]; dg += (w0[i] - w[i]) * g[i]; }
  }
  console.log(`update ${updates}  loss ${loss.toFixed(6)}  grad norm ${Math.sqrt(gg).toFixed(6)}  scale ${(dg / (opts.lr * gg)).toFixed(6)}`);
  if (updates === opts.trace) {
    console.log(`validation perplexity ${(await runEpoch(valid, false)).toFixed(4)}`);
    process.exit(0);
  }
}

/** --eval-every: validation perplexity now; the training state of the LSTM is kept aside meanwhile. */
async function evalNow(): Promise<void> {
  const { c, h } = model.rnn;
  const p = await runEpoch(valid, false);
  model.rnn.c = c;
  model.rnn.h = h;
  console.log(`update ${updates}  validation perplexity ${p.toFixed(2)}`);
}

/**
 * One pass over `ids` laid out as `batchsize` parallel streams (row b is the b-th contiguous
 * slice), `bptt` steps at a time. Training accumulates the loss over the steps, then
 * backprops, cuts the graph behind the state (truncated BPTT) and updates. Returns the perplexity.
 */
async function runEpoch(ids: Int32Array, training: boolean): Promise<number> {
  const B = opts.batchsize, len = Math.floor((ids.length - 1) / B);
  if (len < 1) fail(`a split of ${ids.length} tokens is too short for batch ${B}`);
  const column = (j: number) => new NDArray(Int32Array.from({ length: B }, (_, b) => ids[b * len + j]), [B]).to(opts.device);
  model.resetState();
  const losses: Variable[] = [];
  let steps = 0, total = 0;
  const drain = async () => {
    for (const l of losses.splice(0)) total += await l.item();
  };
  for (let start = 0; start < len; start += opts.bptt) {
    const n = Math.min(opts.bptt, len - start);
    const chunk = () => {
      let loss: Variable | null = null;
      for (let j = start; j < start + n; j++) {
        const l = F.softmaxCrossEntropy(model.forward(column(j)), column(j + 1));
        loss = loss === null ? l : F.add(loss, l);
      }
      return loss!;
    };
    if (training) {
      const loss = chunk();
      model.cleargrads();
      loss.backward();
      loss.unchainBackward();
      const before = opts.trace > 0 ? await snapshot() : null;
      optimizer.update();
      losses.push(loss);
      updates++;
      if (before !== null) await trace(before, await loss.item());
      if (opts.evalEvery > 0 && updates % opts.evalEvery === 0) await evalNow();
    } else {
      losses.push(testMode(() => noBackprop(chunk)));
    }
    steps += n;
    // read now and then, so a GPU queue stays bounded without waiting on every chunk
    if (losses.length >= 8) await drain();
  }
  await drain();
  return Math.exp(total / steps);
}

interface Options {
  epochs: number; units: number; batchsize: number; bptt: number; trainTokens: number; evalTokens: number;
  lr: number; gradclip: number; dropout: number; seed: number; device: Device;
  dtype: 'float32' | 'float64'; saveInit: string | undefined; trace: number; evalEvery: number;
}

/** The command line, checked: a bad flag ends the program with a message saying what was expected. */
function parseOptions(argv: string[]): Options {
  const values = (() => {
    try {
      return parseArgs({ args: argv, options: FLAGS }).values;
    } catch (e) {
      return fail((e as Error).message);
    }
  })();
  const int = (name: keyof typeof FLAGS, min: number) => {
    const text = values[name] as string, v = Number(text);
    if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer >= ${min}, got '${text}'`);
    return v;
  };
  const num = (name: keyof typeof FLAGS, ok: (v: number) => boolean, what: string) => {
    const text = values[name] as string, v = Number(text);
    if (!ok(v)) fail(`--${name} must be ${what}, got '${text}'`);
    return v;
  };
  if (values.device !== 'cpu' && values.device !== 'webgpu') fail(`--device must be cpu or webgpu, got '${values.device}'`);
  if (values.dtype !== 'float32' && values.dtype !== 'float64') fail(`--dtype must be float32 or float64, got '${values.dtype}'`);
  return {
    epochs: int('epochs', 1), units: int('units', 1), batchsize: int('batchsize', 1), bptt: int('bptt', 1),
    trainTokens: int('train-tokens', 2), evalTokens: int('eval-tokens', 2),
    lr: num('lr', (v) => v > 0 && Number.isFinite(v), 'a positive number'),
    gradclip: num('gradclip', (v) => v > 0 && Number.isFinite(v), 'a positive number'),
    dropout: num('dropout', (v) => v >= 0 && v < 1, 'in [0, 1)'),
    seed: int('seed', 0), device: values.device,
    dtype: values.dtype, saveInit: values['save-init'], trace: int('trace', 0), evalEvery: int('eval-every', 0),
  };
}

function fail(message: string): never {
  console.error(`train: ${message}`);
  process.exit(2);
}
