// The training namespace: datasets, the serial iterator and batch conversion.

export { type Dataset, type DatasetLike } from './dataset.js';
export { TupleDataset, type Column, type ColumnItem } from './tuple-dataset.js';
export { SubDataset, splitDataset, splitDatasetRandom } from './sub-dataset.js';
export { SerialIterator, type SerialIteratorOptions } from './serial-iterator.js';
export { concatExamples, type Concatenated } from './concat-examples.js';
export { parseIdx, readIdx, idxImages, idxLabels, getIdxDataset, type IdxArray, type IdxType, type IdxFiles, type IdxReadOptions, type IdxDatasetOptions } from './idx.js';
