// TupleDataset, SubDataset and the dataset splits: what example i is, and bad input.

import test from 'ava';
import { RandomState, array, arange } from '../../runtime/index.js';
import { SubDataset, TupleDataset, splitDataset, splitDatasetRandom } from '../../runtime/training/index.js';

test('TupleDataset: example i is the i-th item of every column; NDArray rows are views with their dtype', (t) => {
  const x = arange(12).reshape([4, 3]);
  const labels = new Int32Array([7, 8, 9, 6]);
  const names = ['a', 'b', 'c', 'd'];
  const ds = new TupleDataset(x, labels, names);
  t.is(ds.length, 4);
  const [xi, ti, ni] = ds.get(2);
  t.deepEqual(xi.shape, [3]);
  t.is(xi.dtype, 'float32');
  t.deepEqual(xi.toArray(), [6, 7, 8]);
  t.is(xi.buffer, x.buffer, 'rows share the column storage');
  t.deepEqual(ti.shape, []);
  t.is(ti.dtype, 'int32');
  t.is(ti.itemSync(), 9);
  t.is(ni, 'c');
});

test('TupleDataset: rejects no columns, unequal lengths, 0-d arrays, other things and bad indices', (t) => {
  t.throws(() => new TupleDataset(), { message: /^TupleDataset: expected at least one column/ });
  t.throws(() => new TupleDataset(arange(6).reshape([3, 2]), [1, 2]), {
    message: 'TupleDataset: columns must have the same length, got column 0 (3, 2), column 1 length 2',
  });
  t.throws(() => new TupleDataset(array(3)), { message: /column 0 is a 0-d array/ });
  t.throws(() => new TupleDataset(new Uint8Array(3)), { message: /column 0 is a Uint8Array; use a Float32Array, Float64Array or Int32Array/ });
  t.throws(() => new TupleDataset(42 as unknown as number[]), { message: /column 0 must be an NDArray, a typed array or an array, got number/ });
  const ds = new TupleDataset([1, 2, 3]);
  t.throws(() => ds.get(3), { message: 'TupleDataset.get: index 3 out of range for a dataset of length 3' });
  t.throws(() => ds.get(-1), { message: /index -1 out of range/ });
});

test('SubDataset and splitDataset: windows, through an order when given', (t) => {
  const base = [10, 11, 12, 13, 14];
  const sub = new SubDataset(base, 1, 4);
  t.is(sub.length, 3);
  t.deepEqual([0, 1, 2].map((i) => sub.get(i)), [11, 12, 13]);
  const [a, b] = splitDataset(base, 2, [4, 3, 2, 1, 0]);
  t.deepEqual([a.get(0), a.get(1)], [14, 13]);
  t.deepEqual([b.get(0), b.get(1), b.get(2)], [12, 11, 10]);
  t.throws(() => new SubDataset(base, 3, 2), { message: "SubDataset: expected 0 <= start <= finish <= 5 (the dataset's length), got start 3, finish 2" });
  t.throws(() => new SubDataset(base, 0, 2, [0, 1]), { message: "SubDataset: order has length 2, expected the dataset's length 5" });
  t.throws(() => splitDataset(base, 6), { message: 'splitDataset: splitAt must be an integer in [0, 5], got 6' });
  t.throws(() => sub.get(3), { message: /^SubDataset.get: index 3 out of range/ });
  t.throws(() => splitDataset({ size: 3 } as unknown as number[], 1), { message: /^splitDataset: dataset must be an array or an object with length and get\(i\), got Object/ });
});

test('splitDatasetRandom: disjoint parts covering everything, reproducible with a seed', (t) => {
  const base = Array.from({ length: 50 }, (_, i) => i);
  const items = (d: { length: number; get(i: number): number }) => Array.from({ length: d.length }, (_, i) => d.get(i));
  const [a, b] = splitDatasetRandom(base, 20, new RandomState(3));
  t.is(a.length, 20);
  t.is(b.length, 30);
  t.deepEqual([...items(a), ...items(b)].sort((p, q) => p - q), base);
  t.notDeepEqual(items(a), base.slice(0, 20), 'shuffled');
  const [a2] = splitDatasetRandom(base, 20, new RandomState(3));
  t.deepEqual(items(a2), items(a), 'same seed, same split');
  const [a3] = splitDatasetRandom(base, 20, new RandomState(4));
  t.notDeepEqual(items(a3), items(a), 'another seed, another split');
  t.throws(() => splitDatasetRandom(base, 51), { message: 'splitDatasetRandom: firstSize must be an integer in [0, 50], got 51' });
  t.throws(() => splitDatasetRandom(base, 1.5), { message: /firstSize must be an integer/ });
});
