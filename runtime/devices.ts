// Devices from the user's side: start or inject WebGPU, pick the array module of a value.

import { arrayModule, type ArrayModule } from './array/array-module.js';
import { NDArray, type Device } from './array/ndarray.js';
import { Variable } from './graph/variable.js';

export { initWebGpu, useDevice, releaseWebGpu, memory, collect } from './array/webgpu/index.js';
export type { ArrayModule };

/**
 * The array module for the device its arguments live on (CPU when none is an array):
 * `const xp = getArrayModule(x)` then `xp.exp(x)` runs on x's device.
 */
export function getArrayModule(...xs: unknown[]): ArrayModule {
  let device: Device = 'cpu';
  for (const x of xs) {
    const d = x instanceof Variable ? x.data.device : x instanceof NDArray ? x.device : null;
    if (d !== null && d !== 'cpu') device = d;
  }
  return arrayModule(device);
}
