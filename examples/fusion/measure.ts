// The comparison job's probe: loads one version of examples/fusion's train module (source or built), trains it, and prints per-step times, dispatches, pipelines and losses as JSON.
// Usage (npm run fusion runs it): npx tsx examples/fusion/measure.ts --program <train.ts or built train.js> --device cpu|webgpu [--steps N] [--warmup N] [train.ts's flags]

import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { initWebGpu, releaseWebGpu } from 'kusari';
import { dispatchStats } from '../../runtime/array/backend.js';
import { pipelineStats } from '../../runtime/array/webgpu/pipelines.js';
import type { AroundStep, TrainOptions } from './train.js';

/** What one probe prints (the last line of its stdout). */
export interface Measured {
  program: string;
  device: 'cpu' | 'webgpu';
  adapter: string | null;
  steps: number;
  warmup: number;
  losses: number[];
  /** wall time of each step (forward, backward, update, loss read back), ms */
  stepMs: number[];
  dispatches: number[];
  /** pipelineStats's counters (created, and the runtime's split of them) over the first step, and before it */
  firstStepPipelines: Record<string, number>;
  pipelinesBeforeFirstStep: Record<string, number>;
  /** ms from the program's import to the first step's start (loading, device, data, model) */
  setupMs: number;
  loadAverage: number[];
}

const counters = (): Record<string, number> =>
  Object.fromEntries(Object.entries(pipelineStats).filter((e): e is [string, number] => typeof e[1] === 'number'));
const minus = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]));

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { program: { type: 'string' }, warmup: { type: 'string', default: '5' } },
  strict: false,
});
if (typeof values.program !== 'string') {
  console.error('measure: --program <path of a train module> is required');
  process.exit(2);
}
const program = resolve(values.program);
const start = performance.now();
const before = counters();
// the module is imported before any device exists, as a user's app is: a built one declares its kernels now
const mod = (await import(pathToFileURL(program).href)) as {
  train(opts: TrainOptions, around: AroundStep): Promise<{ losses: number[] }>;
  parseOptions(argv: string[]): TrainOptions;
};
const rest = process.argv.slice(2).filter((_, i, a) => !['--program', '--warmup'].includes(a[i]) && !['--program', '--warmup'].includes(a[i - 1]));
const opts = mod.parseOptions(rest);
const warmup = Number(values.warmup);
if (!Number.isInteger(warmup) || warmup < 0 || warmup >= opts.steps) {
  console.error(`measure: --warmup must be an integer in [0, --steps), got '${String(values.warmup)}'`);
  process.exit(2);
}
const adapter = opts.device === 'webgpu' ? (await initWebGpu()).adapterName : null;

const stepMs: number[] = [], dispatches: number[] = [];
let firstStepPipelines: Record<string, number> = {}, pipelinesBeforeFirstStep: Record<string, number> = {}, setupMs = 0;
const { losses } = await mod.train(opts, async (k, step) => {
  const p0 = counters(), d0 = dispatchStats.count;
  if (k === 0) {
    setupMs = performance.now() - start;
    pipelinesBeforeFirstStep = minus(p0, before);
  }
  const t0 = performance.now();
  const loss = await step();
  stepMs.push(performance.now() - t0);
  dispatches.push(dispatchStats.count - d0);
  if (k === 0) firstStepPipelines = minus(counters(), p0);
  return loss;
});
if (opts.device === 'webgpu') releaseWebGpu();
const out: Measured = {
  program, device: opts.device, adapter, steps: opts.steps, warmup, losses, stepMs, dispatches,
  firstStepPipelines, pipelinesBeforeFirstStep, setupMs, loadAverage: loadavg(),
};
console.log(JSON.stringify(out));
