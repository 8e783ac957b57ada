// The extension contract: what the Trainer calls after each update (Chainer's training.Extension).

import type { Serializer } from '../serializers/serializer.js';
import type { Trainer } from './trainer.js';
import type { TriggerLike } from './triggers.js';

/** Runs first: writes into the observation (the Evaluator). */
export const PRIORITY_WRITER = 300;
/** Runs second: changes the observation or training state (learning-rate schedules). */
export const PRIORITY_EDITOR = 200;
/** Runs last: reads the observation (logs, reports, the progress bar). */
export const PRIORITY_READER = 100;

/**
 * Something the Trainer runs when its trigger fires. Only `call` is required; the rest are
 * optional, as in Chainer. A plain function `(trainer) => void` is an extension too.
 */
export interface Extension {
  call(trainer: Trainer): void | Promise<void>;
  /** When to run, unless `extend` is given one (default every iteration). */
  readonly trigger?: TriggerLike;
  /** Higher runs first (default PRIORITY_READER). */
  readonly priority?: number;
  /** Its name in the Trainer and in snapshots (default: the class name). */
  readonly name?: string;
  /** Called once when `run()` starts, after a snapshot has been loaded. */
  initialize?(trainer: Trainer): void | Promise<void>;
  /** Called once when `run()` ends, also after an error. */
  finalize?(trainer: Trainer): void | Promise<void>;
  serialize?(serializer: Serializer): void;
}

export type ExtensionLike = Extension | ((trainer: Trainer) => void | Promise<void>);
