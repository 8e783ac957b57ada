// examples/caffe end to end: lenet.ts on the real LeNet, classify.ts on a tiny synthetic net with a PNG and a JPEG written here.

import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { caffeProto } from './caffe-proto.js';
import { sharedFolder } from './caffe-helpers.js';

const run = promisify(execFile);
const tsx = (script: string, ...args: string[]) => run(process.execPath, ['--import', 'tsx', script, ...args], { timeout: 120_000 });
type Failed = Error & { code: number; stderr: string };

const lenet = sharedFolder(test, 'lenet_2016');
if (lenet !== null) {
  test('lenet.ts --limit 500 classifies evenly spaced digits at >= 98% with the real LeNet', async (t) => {
    t.timeout(180_000);
    const { stdout } = await tsx('examples/caffe/lenet.ts', '--limit', '500', '--model', `${lenet}/lenet_iter_10000.caffemodel`);
    const lines = stdout.trim().split('\n');
    t.is(lines.length, 2);
    t.regex(lines[0], /^LeNet from .*lenet_iter_10000\.caffemodel: layers data, conv1, pool1, conv2, pool2, ip1, relu1, ip2, prob; 500 digits, device cpu$/);
    const m = /^accuracy (\d+\.\d{2})% \((\d+) \/ 500\)$/.exec(lines[1]);
    t.not(m, null, lines[1]);
    t.true(Number(m![1]) >= 98, lines[1]);
  });
}

test('lenet.ts without the model says to pass --model', async (t) => {
  const err = await t.throwsAsync(tsx('examples/caffe/lenet.ts', '--model', '/nonexistent/lenet.caffemodel')) as Failed;
  t.is(err.code, 2);
  t.is(err.stderr.trim(), "lenet: no caffemodel at /nonexistent/lenet.caffemodel; pass --model path/to/lenet_iter_10000.caffemodel (and --prototxt path/to/lenet.prototxt), the LeNet that Caffe's examples/mnist trains");
});

// ---- classify.ts on a net written here: its output is the mean of each preprocessed channel

const dir = mkdtempSync(join(tmpdir(), 'kusari-classify-'));
const BIAS = [0.5, 0, -0.5];
/** ip[k] = mean of channel k of the (1, 3, 2, 2) input + BIAS[k]: the preprocessed blob, summarised. */
const weights = Array.from({ length: 3 * 12 }, (_, i) => (Math.floor(i / 12) === Math.floor((i % 12) / 4) ? 0.25 : 0));
const Net = caffeProto(true).lookupType('caffe.NetParameter');
writeFileSync(join(dir, 'tiny.caffemodel'), Net.encode(Net.fromObject({
  name: 'tiny',
  layer: [{ name: 'ip', type: 'InnerProduct', bottom: ['data'], top: ['ip'], inner_product_param: { num_output: 3 },
    blobs: [{ shape: { dim: [3, 12] }, data: weights }, { shape: { dim: [3] }, data: BIAS }] }],
})).finish());
writeFileSync(join(dir, 'deploy.prototxt'), `name: "tiny"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 2 dim: 2 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 3 } }
`);
writeFileSync(join(dir, 'labels.txt'), 'blue\ngreen\nred\n');

/** An 8 x 4 PNG whose every pixel differs, so the centre crop and the channel order show in the means. */
const colour = (x: number, y: number) => [20 * x + 10 * y, 200 - 15 * x, 7 * y + 3 * x];
const png = new PNG({ width: 8, height: 4 });
for (let y = 0; y < 4; y++) for (let x = 0; x < 8; x++) png.data.set([...colour(x, y), 255], (y * 8 + x) * 4);
writeFileSync(join(dir, 'ramp.png'), PNG.sync.write(png));

/** The printed lines after the header: [score, index, label]. */
const rows = (stdout: string) => stdout.trim().split('\n').slice(1).map((l) => {
  const [s, i, label] = l.trim().split(/\s+/);
  return [Number(s), Number(i), label] as const;
});

test('classify.ts: PNG, centre crop of the resized image, BGR order, mean and scale as Caffe\'s classifier does', async (t) => {
  const mean = [10, 20, 30], scale = 0.5;
  const { stdout } = await tsx('examples/caffe/classify.ts', join(dir, 'tiny.caffemodel'), join(dir, 'deploy.prototxt'), join(dir, 'ramp.png'),
    '--resize', '4,8', '--mean', mean.join(','), '--scale', String(scale), '--labels', join(dir, 'labels.txt'), '--top', '3');
  t.is(stdout.split('\n')[0], `${join(dir, 'ramp.png')}: 8 x 4, resized to 8 x 4, cropped to 2 x 2; 'ip' has 3 values`);
  // the 2 x 2 centre of 4 x 8: rows 1-2, columns 3-4; blob channel c is RGB channel 2 - c
  const expected = [0, 1, 2].map((c) => {
    let sum = 0;
    for (const y of [1, 2]) for (const x of [3, 4]) sum += (colour(x, y)[2 - c] - mean[c]) * scale;
    return sum / 4 + BIAS[c];
  });
  const got = rows(stdout);
  t.deepEqual(got.map(([, i, label]) => [i, label]), [0, 1, 2].sort((a, b) => expected[b] - expected[a]).map((i) => [i, ['blue', 'green', 'red'][i]]));
  for (const [s, i] of got) t.true(Math.abs(s - Number(expected[i].toFixed(4))) < 1e-3, `${i}: ${s} vs ${expected[i]}`);
});

test('classify.ts: JPEG resized to the net\'s input (a flat colour stays flat), no mean, default top 5 of 3', async (t) => {
  const [w, h, rgb] = [16, 12, [200, 100, 50]];
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
  writeFileSync(join(dir, 'flat.jpg'), jpeg.encode({ data, width: w, height: h }, 95).data);
  const { stdout } = await tsx('examples/caffe/classify.ts', join(dir, 'tiny.caffemodel'), join(dir, 'deploy.prototxt'), join(dir, 'flat.jpg'));
  t.is(stdout.split('\n')[0], `${join(dir, 'flat.jpg')}: 16 x 12, resized to 2 x 2, cropped to 2 x 2; 'ip' has 3 values`);
  const got = rows(stdout);
  // red 200.5 - 0.5, green 100, blue 50.5: JPEG's rounding moves a flat colour by a unit or two
  t.deepEqual(got.map(([, i, label]) => [i, label]), [[2, undefined], [1, undefined], [0, undefined]]);
  for (const [s, i] of got) t.true(Math.abs(s - ([50, 100, 200][i] + BIAS[i])) < 3, `${i}: ${s}`);
});

test('classify.ts refuses an image type it cannot decode, a bad --mean and a missing argument, saying what it expected', async (t) => {
  const args = [join(dir, 'tiny.caffemodel'), join(dir, 'deploy.prototxt')];
  const gif = await t.throwsAsync(tsx('examples/caffe/classify.ts', ...args, join(dir, 'x.gif'))) as Failed;
  t.is(gif.code, 2);
  t.is(gif.stderr.trim(), `classify: ${join(dir, 'x.gif')}: expected a .jpg, .jpeg or .png image, got '.gif'`);
  const mean = await t.throwsAsync(tsx('examples/caffe/classify.ts', ...args, join(dir, 'ramp.png'), '--mean', '1,2')) as Failed;
  t.is(mean.stderr.trim(), "classify: --mean must be three numbers B,G,R (e.g. 104,117,123), got '1,2'");
  const missing = await t.throwsAsync(tsx('examples/caffe/classify.ts', ...args)) as Failed;
  t.is(missing.stderr.trim(), 'classify: expected <model.caffemodel> <deploy.prototxt> <image.jpg|png>, got 2 arguments');
});
