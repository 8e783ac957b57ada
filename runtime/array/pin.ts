// Marking arrays as long-lived state, which an early-freeing scope must never give back.

import { memoryOf } from './backend.js';
import type { NDArray } from './ndarray.js';

/**
 * Mark `x`'s memory as long-lived (a parameter, an optimizer's moments): scope() keeps it
 * even when it was created inside the scope. A no-op for CPU arrays, which the garbage
 * collector alone manages.
 */
export function pin(x: NDArray): NDArray {
  memoryOf(x.storage).pin(x.storage);
  return x;
}
