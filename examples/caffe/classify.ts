// Classify one image with a Caffe Model Zoo model (CaffeNet, GoogLeNet, ...) that you downloaded, preprocessed as Caffe's Python classifier does.
// Usage: npx tsx examples/caffe/classify.ts <model.caffemodel> <deploy.prototxt> <image.jpg|png> [--mean B,G,R] [--labels synset_words.txt]
//        [--resize H,W] [--scale S] [--top K] [--output blob] [--device cpu|webgpu]

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { CaffeFunction, NDArray, Variable, initWebGpu, noBackprop, releaseWebGpu, testMode } from 'kusari';

const FLAGS = {
  mean: { type: 'string' },
  labels: { type: 'string' },
  resize: { type: 'string' },
  scale: { type: 'string', default: '1' },
  top: { type: 'string', default: '5' },
  output: { type: 'string' },
  device: { type: 'string', default: 'cpu' },
} as const;

function fail(message: string): never {
  console.error(`classify: ${message}`);
  process.exit(2);
}

/** An RGB image as floats in [0, 1], (h, w, 3) row-major: what caffe.io.load_image returns (alpha dropped). */
interface Image { readonly h: number; readonly w: number; readonly rgb: Float32Array }

function decode(path: string): Image {
  const ext = extname(path).toLowerCase();
  if (ext !== '.png' && ext !== '.jpg' && ext !== '.jpeg') fail(`${path}: expected a .jpg, .jpeg or .png image, got '${ext || '(no extension)'}'`);
  let rgba: { width: number; height: number; data: Uint8Array };
  try {
    const bytes = readFileSync(path);
    rgba = ext === '.png' ? PNG.sync.read(bytes) : jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
  } catch (e) {
    return fail(`${path}: cannot decode the image: ${(e as Error).message}`);
  }
  const { width: w, height: h, data } = rgba;
  const rgb = new Float32Array(h * w * 3);
  for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * 4 + c] / 255;
  return { h, w, rgb };
}

/**
 * Bilinear resize with pixel centres aligned and edges clamped: caffe.io.resize_image's
 * skimage.transform.resize at order 1 (without its anti-aliasing when shrinking).
 */
function resize(img: Image, h: number, w: number): Image {
  if (img.h === h && img.w === w) return img;
  const out = new Float32Array(h * w * 3);
  const source = (i: number, n: number, size: number) => Math.min(Math.max((i + 0.5) * (size / n) - 0.5, 0), size - 1);
  for (let y = 0; y < h; y++) {
    const sy = source(y, h, img.h), y0 = Math.floor(sy), y1 = Math.min(y0 + 1, img.h - 1), fy = sy - y0;
    for (let x = 0; x < w; x++) {
      const sx = source(x, w, img.w), x0 = Math.floor(sx), x1 = Math.min(x0 + 1, img.w - 1), fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => img.rgb[(yy * img.w + xx) * 3 + c];
        const top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx, bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
        out[(y * w + x) * 3 + c] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return { h, w, rgb: out };
}

/**
 * caffe.Classifier.predict without oversampling: resize to `dims`, take the centre crop of
 * the net's input size, then caffe.io.Transformer: HWC to CHW, RGB to BGR, raw scale 255,
 * subtract the per-channel mean (BGR), multiply by the input scale.
 */
function preprocess(img: Image, dims: readonly [number, number], crop: readonly [number, number], mean: readonly number[], scale: number): Float32Array {
  const r = resize(img, dims[0], dims[1]);
  const top = Math.floor((dims[0] - crop[0]) / 2), left = Math.floor((dims[1] - crop[1]) / 2);
  const out = new Float32Array(3 * crop[0] * crop[1]);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < crop[0]; y++) {
      for (let x = 0; x < crop[1]; x++) {
        // channel c of the BGR blob is channel 2 - c of the RGB image
        const v = r.rgb[((top + y) * r.w + left + x) * 3 + (2 - c)] * 255;
        out[(c * crop[0] + y) * crop[1] + x] = (v - mean[c]) * scale;
      }
    }
  }
  return out;
}

const { values, positionals } = (() => {
  try {
    return parseArgs({ args: process.argv.slice(2), options: FLAGS, allowPositionals: true });
  } catch (e) {
    return fail((e as Error).message);
  }
})();
if (positionals.length !== 3) fail(`expected <model.caffemodel> <deploy.prototxt> <image.jpg|png>, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
const [modelPath, prototxtPath, imagePath] = positionals;
const numbers = (name: string, text: string, count: number, ok: (v: number) => boolean, what: string) => {
  const v = text.split(',').map((s) => Number(s.trim()));
  if (v.length !== count || !v.every((n) => Number.isFinite(n) && ok(n))) fail(`--${name} must be ${what}, got '${text}'`);
  return v;
};
const mean = values.mean === undefined ? [0, 0, 0] : numbers('mean', values.mean, 3, () => true, 'three numbers B,G,R (e.g. 104,117,123)');
const [scale] = numbers('scale', values.scale, 1, (v) => v > 0, 'a number > 0');
const [topK] = numbers('top', values.top, 1, (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1');
if (values.device !== 'cpu' && values.device !== 'webgpu') fail(`--device must be cpu or webgpu, got '${values.device}'`);
const device = values.device;

const func = (() => {
  try {
    return new CaffeFunction(modelPath, { prototxt: prototxtPath });
  } catch (e) {
    return fail((e as Error).message);
  }
})();
const input = func.inputs[0];
const shape = input?.shape;
if (input === undefined || shape === null || shape === undefined || shape.length !== 4 || shape[1] !== 3) {
  fail(`${prototxtPath}: expected a deploy net whose first input is declared (N, 3, H, W), got ${input === undefined ? 'no input' : `'${input.name}' ${shape === null || shape === undefined ? 'without a shape' : `(${shape.join(', ')})`}`}`);
}
const crop: [number, number] = [shape[2], shape[3]];
const dims = values.resize === undefined ? crop : numbers('resize', values.resize, 2, (v) => Number.isInteger(v) && v >= 1, 'two integers H,W (e.g. 256,256)') as [number, number];
if (dims[0] < crop[0] || dims[1] < crop[1]) fail(`--resize ${dims.join(',')} is smaller than the net's input ${crop.join(' x ')}`);
const output = values.output ?? func.layers[func.layers.length - 1]?.top[0];
if (output === undefined) fail(`${prototxtPath}: the net has no layers`);

const image = decode(imagePath);
const blob = preprocess(image, dims, crop, mean, scale);
if (device === 'webgpu') {
  await initWebGpu();
  func.toGpu();
}
const x = new Variable(new NDArray(blob, [1, 3, crop[0], crop[1]]).to(device), { requiresGrad: false });
const [y] = testMode(() => noBackprop(() => func({ inputs: { [input.name]: x }, outputs: [output] })));
const scores = Array.from(await y.data.data());
if (device === 'webgpu') releaseWebGpu();  // Dawn keeps Node alive while a device lives

const labels = values.labels === undefined ? null : readFileSync(values.labels, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '');
if (labels !== null && labels.length !== scores.length) fail(`${values.labels}: ${labels.length} labels for ${scores.length} outputs of '${output}'`);
console.log(`${imagePath}: ${image.w} x ${image.h}, resized to ${dims[1]} x ${dims[0]}, cropped to ${crop[1]} x ${crop[0]}; '${output}' has ${scores.length} values`);
const order = scores.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, topK);
for (const [s, i] of order) console.log(`${s.toFixed(4).padStart(10)}  ${i}${labels === null ? '' : `  ${labels[i]}`}`);
