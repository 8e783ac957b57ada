// concatExamples: shapes and dtypes of stacked batches, and errors that say which example.

import test from 'ava';
import { NDArray, array, arange } from '../../runtime/index.js';
import { SerialIterator, TupleDataset, concatExamples } from '../../runtime/training/index.js';

test('rows of a TupleDataset stack into (batch, ...) arrays that keep their dtypes', (t) => {
  const x = arange(24).reshape([6, 2, 2]);
  const labels = new Int32Array([0, 1, 2, 3, 4, 5]);
  const it = new SerialIterator(new TupleDataset(x, labels), 4, { shuffle: false });
  const [xb, tb] = concatExamples(it.next());
  t.deepEqual(xb.shape, [4, 2, 2]);
  t.is(xb.dtype, 'float32');
  t.deepEqual(xb.toArray(), (x.toArray() as unknown[]).slice(0, 4));
  t.deepEqual(tb.shape, [4]);
  t.is(tb.dtype, 'int32');
  t.deepEqual(tb.toArray(), [0, 1, 2, 3]);
  const [xb2, tb2] = concatExamples(it.next());  // wraps: rows 4, 5, 0, 1
  t.deepEqual(tb2.toArray(), [4, 5, 0, 1]);
  t.deepEqual((xb2.toArray() as number[][][])[2], [[0, 1], [2, 3]]);
});

test('plain JS data: nested arrays become float32 features, integers int32 labels', (t) => {
  const [x, y] = concatExamples([[[0, 1], 1], [[1, 1], 0], [[1, 0], 1]]);
  t.deepEqual(x.shape, [3, 2]);
  t.is(x.dtype, 'float32');
  t.deepEqual(y.toArray(), [1, 0, 1]);
  t.is(y.dtype, 'int32');
});

test('typed-array and non-tuple examples; float targets keep their dtype through a Float32Array column', (t) => {
  const single = concatExamples([new Float64Array([1, 2]), new Float64Array([3, 4])]);
  t.true(single instanceof NDArray);
  t.deepEqual(single.shape, [2, 2]);
  t.is(single.dtype, 'float64');
  const ds = new TupleDataset(new Float32Array([0.5, 2]));
  const [targets] = concatExamples([ds.get(0), ds.get(1)]);
  t.is(targets.dtype, 'float32');
  t.deepEqual(targets.toArray(), [0.5, 2]);
});

test('non-contiguous rows are copied correctly', (t) => {
  const xT = arange(6).reshape([2, 3]).transpose();  // (3, 2) view with strides (1, 3)
  const [xb] = concatExamples([0, 1, 2].map((i) => new TupleDataset(xT).get(i)));
  t.deepEqual(xb.toArray(), [[0, 3], [1, 4], [2, 5]]);
});

test('bad batches name concatExamples, the example and what was expected', (t) => {
  t.throws(() => concatExamples([]), { message: 'concatExamples: batch is empty; expected at least one example' });
  t.throws(() => concatExamples('ab' as unknown as string[]), { message: /batch must be an array of examples, got string/ });
  t.throws(() => concatExamples([[array([1, 2]), 0], [array([1, 2])]]), {
    message: 'concatExamples: example 1 in batch is a tuple of 1, expected a tuple of 2 like example 0',
  });
  t.throws(() => concatExamples([[array([1, 2]), 0], [array([1, 2, 3]), 1]]), {
    message: 'concatExamples: field 0 of example 1 is (3,) float32, expected (2,) float32 like example 0',
  });
  t.throws(() => concatExamples([array([1, 2]), array([1, 2], undefined, 'int32')]), {
    message: 'concatExamples: example 1 is (2,) int32, expected (2,) float32 like example 0',
  });
  t.throws(() => concatExamples([[array([1]), 1], [array([1]), 0.5]]), {
    message: /^concatExamples: field 1 of example 1 is the JS number 0.5; plain numbers are int32 labels/,
  });
  t.throws(() => concatExamples([[array([1])], [2]]), { message: 'concatExamples: field 0 of example 1 is a number but other examples hold arrays there' });
  t.throws(() => concatExamples([[[1, 2]], [[1, 'x']]]), { message: /^concatExamples: field 0 of example 1 is not a valid nested array \(array: / });
  t.throws(() => concatExamples([['a'], ['b']]), { message: /^concatExamples: field 0 of example 0 is string; expected an NDArray/ });
});
