// The Serializer contract (Chainer's): objects describe their state once, in serialize(), and
// the same method both saves and loads it.

import type { NDArray } from '../array/ndarray.js';

/**
 * Visits an object's state by key. A saving serializer records each value; a loading one
 * checks every value against the file first and assigns only when the whole load has
 * passed its checks, so a failed load leaves the target unchanged.
 */
export interface Serializer {
  /** True while loading, false while saving. */
  readonly loading: boolean;
  /** The serializer for a sub-object: keys below it are prefixed with `name/` (Chainer's `serializer['name']`). */
  child(name: string): Serializer;
  /**
   * An array under `key`. Saving records `current` (null is an error: nothing to save).
   * Loading reads the stored array, checks its shape and dtype against `current` (when not
   * null), and, once every check of the load has passed, calls `assign` with it (a CPU array;
   * `assign` moves it to the target's device).
   */
  array(key: string, current: NDArray | null, assign: (loaded: NDArray) => void): void;
  /** A number under `key` (a step count, a learning rate): saved as a 0-d float64 array. */
  number(key: string, current: number, assign: (loaded: number) => void): void;
}

/** Anything that can be saved and loaded: links, optimizers, iterators, the Trainer. */
export interface Serializable {
  serialize(serializer: Serializer): void;
}
