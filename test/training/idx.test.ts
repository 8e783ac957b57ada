// The IDX reader: every type code, gzip told from plain by content, checked errors, the four-file dataset, Fashion-MNIST.

import test from 'ava';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { training } from '../../runtime/index.js';

const { parseIdx, readIdx, getIdxDataset } = training;
const dir = mkdtempSync(join(tmpdir(), 'kusari-idx-'));
const CI = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI.toLowerCase());

/** An IDX file written independently of the reader: magic, dims big-endian, then big-endian elements. */
function idx(code: number, shape: number[], values: number[]): Uint8Array {
  const size = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 }[code]!;
  const b = Buffer.alloc(4 + 4 * shape.length + size * values.length);
  b[2] = code;
  b[3] = shape.length;
  shape.forEach((n, d) => b.writeUInt32BE(n, 4 + 4 * d));
  let p = 4 + 4 * shape.length;
  for (const v of values) {
    if (code === 0x08) b.writeUInt8(v, p);
    else if (code === 0x09) b.writeInt8(v, p);
    else if (code === 0x0b) b.writeInt16BE(v, p);
    else if (code === 0x0c) b.writeInt32BE(v, p);
    else if (code === 0x0d) b.writeFloatBE(v, p);
    else b.writeDoubleBE(v, p);
    p += size;
  }
  return new Uint8Array(b);
}

test('parseIdx: each type code reads back its big-endian values and shape', (t) => {
  const cases: [number, training.IdxType, number[]][] = [
    [0x08, 'uint8', [0, 1, 127, 255, 3, 9]],
    [0x09, 'int8', [-128, -1, 0, 1, 127, 5]],
    [0x0b, 'int16', [-32768, -2, 0, 300, 32767, 7]],
    [0x0c, 'int32', [-2147483648, -5, 0, 65536, 2147483647, 1]],
    [0x0d, 'float32', [-1.5, 0, 0.25, 3, 1e10, -2]],
    [0x0e, 'float64', [Math.PI, -Math.E, 0, 1e-300, 1e300, 6]],
  ];
  for (const [code, type, values] of cases) {
    const a = parseIdx(idx(code, [2, 3], values), 'x');
    t.is(a.type, type);
    t.deepEqual(a.shape, [2, 3]);
    t.deepEqual(Array.from(a.values), code === 0x0d ? values.map((v) => Math.fround(v)) : values, type);
  }
});

test('readIdx: gzip is told from plain by the bytes, not the name', async (t) => {
  const plain = idx(0x08, [2, 2], [1, 2, 3, 4]);
  const a = join(dir, 'looks-plain'), b = join(dir, 'looks-gzipped.gz');
  writeFileSync(a, gzipSync(plain));
  writeFileSync(b, plain);
  t.deepEqual(Array.from((await readIdx(a)).values), [1, 2, 3, 4]);
  t.deepEqual(Array.from((await readIdx(b)).values), [1, 2, 3, 4]);
});

test('parseIdx: malformed files give errors naming the file, what is wrong and where', (t) => {
  const good = idx(0x08, [2, 3], [1, 2, 3, 4, 5, 6]);
  const msg = (b: Uint8Array) => t.throws(() => parseIdx(b, 'f.idx'))?.message;
  t.is(msg(good.subarray(0, 3)), 'readIdx: f.idx: truncated: 3 bytes, shorter than the 4-byte IDX magic (at offset 0)');
  t.is(msg(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0])), 'readIdx: f.idx: not an IDX file: the magic number starts 01 00, expected 00 00 (at offset 0)');
  t.is(msg(Uint8Array.from([0, 0, 7, 1, 0, 0, 0, 0])), 'readIdx: f.idx: unknown IDX type code 07 (expected 08, 09, 0b, 0c, 0d or 0e) (at offset 2)');
  t.is(msg(good.subarray(0, 10)), 'readIdx: f.idx: truncated: 2 dimensions need a 12-byte header, the file has 10 bytes (at offset 4)');
  t.is(msg(good.subarray(0, 15)), 'readIdx: f.idx: shape (2, 3) of uint8 needs 6 data bytes, the file has 3 (at offset 12)');
  const huge = good.slice();
  new DataView(huge.buffer).setUint32(4, 0xffffffff, false);
  t.is(msg(huge), 'readIdx: f.idx: shape (4294967295, 3) of uint8 needs 12884901885 data bytes, the file has 6 (at offset 12)');
  const gz = gzipSync(good);
  t.regex(msg(gz.subarray(0, gz.length - 5))!, /^readIdx: f\.idx: corrupt gzip data: /);
  t.is(t.throws(() => parseIdx(gzipSync(new Uint8Array(5000)), 'bomb', { maxBytes: 1000 }))?.message,
    'readIdx: bomb: gzip data inflates to more than 1000 bytes (maxBytes)');
});

test('getIdxDataset: a folder of the four files gives train/test TupleDatasets (float32 in [0, 1], int32 labels)', async (t) => {
  const folder = mkdtempSync(join(dir, 'set-'));
  const px = Array.from({ length: 3 * 2 * 2 }, (_, i) => (i * 23) % 256);
  writeFileSync(join(folder, 'train-images-idx3-ubyte.gz'), gzipSync(idx(0x08, [3, 2, 2], px)));
  writeFileSync(join(folder, 'train-labels-idx1-ubyte'), idx(0x08, [3], [4, 0, 9]));
  writeFileSync(join(folder, 't10k-images-idx3-ubyte'), idx(0x08, [1, 2, 2], [0, 255, 51, 102]));
  writeFileSync(join(folder, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx(0x08, [1], [7])));
  const { train, test: testSet } = await getIdxDataset(folder);
  t.is(train.length, 3);
  const [x1, t1] = train.get(1);
  t.deepEqual(x1.shape, [4]);
  t.is(x1.dtype, 'float32');
  t.deepEqual(Array.from(x1.toFlat()), px.slice(4, 8).map((v) => Math.fround(v / 255)));
  t.is(t1.dtype, 'int32');
  t.is(t1.itemSync(), 0);
  const [x0] = (await getIdxDataset(folder, { ndim: 3 })).test.get(0);
  t.deepEqual(x0.shape, [1, 2, 2]);
  t.deepEqual(Array.from(x0.toFlat()), [0, 1, 0.2, 0.4].map(Math.fround));
  t.is(testSet.get(0)[1].itemSync(), 7);

  writeFileSync(join(folder, 'train-labels-idx1-ubyte'), idx(0x08, [2], [4, 0]));
  const err = await t.throwsAsync(getIdxDataset(folder));
  t.is(err?.message, `getIdxDataset: ${join(folder, 'train-images-idx3-ubyte.gz')} holds 3 images and ${join(folder, 'train-labels-idx1-ubyte')} 2 labels`);
  const empty = mkdtempSync(join(dir, 'empty-'));
  t.is((await t.throwsAsync(getIdxDataset(empty)))?.message,
    `getIdxDataset: ${empty}: neither train-images-idx3-ubyte nor train-images-idx3-ubyte.gz is there`);
});

const FASHION = '/usr/share/datasets/fashion-mnist';
const fashionTest = existsSync(FASHION) ? test : CI ? test : test.skip;
fashionTest(`getIdxDataset: Fashion-MNIST from Debian's dataset-fashion-mnist (${FASHION})${existsSync(FASHION) || CI ? '' : ' (skipped: apt-get install dataset-fashion-mnist)'}`, async (t) => {
  if (!existsSync(FASHION)) return t.fail(`CI is set and ${FASHION} is missing: install dataset-fashion-mnist`);
  const { train, test: testSet } = await getIdxDataset(FASHION);
  t.is(train.length, 60000);
  t.is(testSet.length, 10000);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < train.length; i += 1) counts[train.get(i)[1].itemSync()] += 1;
  t.deepEqual(counts, new Array(10).fill(6000), 'Fashion-MNIST has 6000 training images per class');
  const [x] = train.get(0);
  t.deepEqual(x.shape, [784]);
  const v = Array.from(x.toFlat());
  t.true(v.every((p) => p >= 0 && p <= 1));
  t.true(v.some((p) => p === 1) || v.some((p) => p > 0.9), 'a real image has bright pixels');
});
