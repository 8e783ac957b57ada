// snapshot: saves the whole training state (or one object) as an .npz file in the Trainer's out folder.

import { join } from 'node:path';
import { saveNpz } from '../../serializers/npz.js';
import type { Serializable } from '../../serializers/serializer.js';
import type { Extension } from '../extension.js';
import type { Trainer } from '../trainer.js';
import type { TriggerLike } from '../triggers.js';

export interface SnapshotOptions {
  /**
   * File name in `out`; `{epoch}` and `{iteration}` are replaced by the updater's
   * (default 'snapshot_iter_{iteration}', as Chainer's).
   */
  filename?: string;
  /** What to save (default the Trainer: model, optimizer, iterator, updater, extensions, random state). */
  target?: Serializable;
  /** Default every epoch. */
  trigger?: TriggerLike;
}

/**
 * Chainer's snapshot extension. It runs after every other extension (priority -100), so the
 * file holds their state as of this iteration; the write is atomic (saveNpz writes a
 * temporary file and renames it), so a crash never leaves a half-written snapshot. Resume
 * with `loadNpz(path, trainer)` before `trainer.run()`.
 *
 * ```ts
 * trainer.extend(snapshot(), { trigger: [1, 'epoch'] });
 * ```
 */
export function snapshot(opts: SnapshotOptions = {}): Extension {
  const filename = opts.filename ?? 'snapshot_iter_{iteration}';
  return {
    name: 'snapshot',
    trigger: opts.trigger ?? [1, 'epoch'],
    priority: -100,
    async call(trainer: Trainer) {
      const name = filename.replace(/\{epoch\}/g, String(trainer.updater.epoch)).replace(/\{iteration\}/g, String(trainer.updater.iteration));
      await saveNpz(join(trainer.out, name), opts.target ?? trainer);
    },
  };
}
