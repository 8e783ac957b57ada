// The training namespace: datasets, iterators, batch conversion, and the Trainer with its extensions.

export { type Dataset, type DatasetLike } from './dataset.js';
export { TupleDataset, type Column, type ColumnItem } from './tuple-dataset.js';
export { SubDataset, splitDataset, splitDatasetRandom } from './sub-dataset.js';
export { SerialIterator, type SerialIteratorOptions } from './serial-iterator.js';
export { concatExamples, type Concatenated } from './concat-examples.js';
export { Trainer, type ExtendOptions } from './trainer.js';
export { StandardUpdater, type Updater, type Converter, type StandardUpdaterOptions } from './updater.js';
export {
  Reporter, report, getCurrentReporter, readObservation, DictSummary,
  type Reportable, type Observation, type RawObservation,
} from './reporter.js';
export {
  getTrigger, IntervalTrigger, ManualScheduleTrigger, BestValueTrigger, MaxValueTrigger, MinValueTrigger, EarlyStoppingTrigger,
  type Trigger, type TriggerLike, type Unit, type EarlyStoppingOptions,
} from './triggers.js';
export { PRIORITY_WRITER, PRIORITY_EDITOR, PRIORITY_READER, type Extension, type ExtensionLike } from './extension.js';
export * as extensions from './extensions/index.js';
export { parseIdx, readIdx, idxImages, idxLabels, getIdxDataset, type IdxArray, type IdxType, type IdxFiles, type IdxReadOptions, type IdxDatasetOptions } from './idx.js';
