// GPU test gate: a WebGPU test runs when an adapter exists, fails in CI when none does, else is skipped.

import test, { type ImplementationFn } from 'ava';
import { initWebGpu } from '../../runtime/index.js';

let reason: string | null = null;
try {
  await initWebGpu();
} catch (e) {
  reason = (e as Error).message;
}

/** `test` for WebGPU: skipped (with the reason in its title) only outside CI when no adapter is found. */
export function gpuTest(title: string, fn: ImplementationFn<[]>): void {
  if (reason === null) test(title, fn);
  else if (process.env.CI) test(title, (t) => t.fail(`no WebGPU adapter in CI: ${reason}`));
  else test.skip(`${title} (no WebGPU adapter: ${reason})`, fn);
}
