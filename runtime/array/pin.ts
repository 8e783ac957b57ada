// Marking arrays as long-lived state, which an early-freeing scope must never give back.

import type { NDArray } from './ndarray.js';
import { GpuStorage } from './webgpu/memory.js';

/**
 * Mark `x`'s memory as long-lived (a parameter, an optimizer's moments): scope() keeps it
 * even when it was created inside the scope. A no-op for CPU arrays, which the garbage
 * collector alone manages.
 */
export function pin(x: NDArray): NDArray {
  if (x.storage instanceof GpuStorage) x.storage.pinned = true;
  return x;
}
