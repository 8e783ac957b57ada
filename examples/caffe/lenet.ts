// Caffe's trained LeNet (examples/mnist in Caffe) run by kusari's CaffeFunction on the embedded MNIST digits; prints the accuracy.
// Usage: npx tsx examples/caffe/lenet.ts [--model lenet_iter_10000.caffemodel] [--prototxt lenet.prototxt] [--device cpu|webgpu] [--batchsize 100] [--limit N]

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CaffeFunction, F, NDArray, Variable, initWebGpu, noBackprop, releaseWebGpu, scope, testMode } from 'kusari';
import { loadDigits } from '../mnist/data.js';

const FLAGS = {
  model: { type: 'string' },
  prototxt: { type: 'string' },
  device: { type: 'string', default: 'cpu' },
  batchsize: { type: 'string', default: '100' },
  limit: { type: 'string' },
} as const;

// the repository's sibling folder shared/ holds a copy; the package itself never depends on it
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DEFAULT_MODEL = resolve(REPO, '../shared/caffe/lenet_2016/lenet_iter_10000.caffemodel');
const PIXELS = 28 * 28;

function fail(message: string): never {
  console.error(`lenet: ${message}`);
  process.exit(2);
}

const opts = parseOptions(process.argv.slice(2));
if (!existsSync(opts.model)) {
  fail(`no caffemodel at ${opts.model}; pass --model path/to/lenet_iter_10000.caffemodel (and --prototxt path/to/lenet.prototxt), the LeNet that Caffe's examples/mnist trains`);
}
if (!existsSync(opts.prototxt)) fail(`no deploy prototxt at ${opts.prototxt}; pass --prototxt path/to/lenet.prototxt`);

const { x, t } = loadDigits();
// evenly spaced digits when limited: the files come sorted by class
const all = x.shape[0], n = Math.min(opts.limit ?? all, all);
const picks = Array.from({ length: n }, (_, i) => Math.floor((i * all) / n));
const pixels = x.toFlat(), labels = t.toFlat();
// Caffe trained LeNet on bytes scaled by 0.00390625 (1/256); the embedded digits are byte / 255
const images = new Float32Array(n * PIXELS);
picks.forEach((p, i) => { for (let j = 0; j < PIXELS; j++) images[i * PIXELS + j] = Math.round(pixels[p * PIXELS + j] * 255) * 0.00390625; });

if (opts.device === 'webgpu') await initWebGpu();
const func = new CaffeFunction(opts.model, { prototxt: opts.prototxt });
if (opts.device === 'webgpu') func.toGpu();
const output = func.layers[func.layers.length - 1].top[0];
console.log(`LeNet from ${opts.model}: layers ${func.layers.map((l) => l.name).join(', ')}; ${n} digits, device ${opts.device}`);

let hits = 0;
for (let i = 0; i < n; i += opts.batchsize) {
  const m = Math.min(opts.batchsize, n - i);
  // scope() gives each batch's GPU memory (its upload included) back at once
  const pred = scope(() => testMode(() => noBackprop(() => {
    const data = new Variable(new NDArray(images.slice(i * PIXELS, (i + m) * PIXELS), [m, 1, 28, 28]).to(opts.device), { requiresGrad: false });
    return F.argmax(func({ inputs: { data }, outputs: [output] })[0], 1);
  })));
  const got = await pred.data.data();
  for (let j = 0; j < m; j++) if (got[j] === labels[picks[i + j]]) hits++;
}
console.log(`accuracy ${(100 * hits / n).toFixed(2)}% (${hits} / ${n})`);
if (opts.device === 'webgpu') releaseWebGpu();  // Dawn keeps Node alive while a device lives

interface Options { model: string; prototxt: string; device: 'cpu' | 'webgpu'; batchsize: number; limit?: number }

/** The command line, checked: a bad flag ends the program with a message saying what was expected. */
function parseOptions(argv: string[]): Options {
  const values = (() => {
    try {
      return parseArgs({ args: argv, options: FLAGS }).values;
    } catch (e) {
      return fail((e as Error).message);
    }
  })();
  const int = (name: string, text: string) => {
    const v = Number(text);
    if (!Number.isInteger(v) || v < 1) fail(`--${name} must be an integer >= 1, got '${text}'`);
    return v;
  };
  if (values.device !== 'cpu' && values.device !== 'webgpu') fail(`--device must be cpu or webgpu, got '${values.device}'`);
  const model = values.model ?? DEFAULT_MODEL;
  return {
    model,
    // the deploy net sits beside the weights in Caffe's examples/mnist
    prototxt: values.prototxt ?? join(dirname(model), 'lenet.prototxt'),
    device: values.device,
    batchsize: int('batchsize', values.batchsize),
    limit: values.limit === undefined ? undefined : int('limit', values.limit),
  };
}
