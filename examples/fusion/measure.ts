// The comparison job's probe: loads one version of examples/fusion's train module (source or built), trains it, and prints per-step times, dispatches, pipelines and losses as JSON.
// Usage (npm run fusion runs it): npx tsx examples/fusion/measure.ts --program <train.ts or built train.js> --device cpu|webgpu [--steps N] [--warmup N] [train.ts's flags]

import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { initWebGpu, releaseWebGpu } from 'kusari';
import { dispatchStats } from '../../runtime/array/backend.js';
import { currentDevice } from '../../runtime/array/webgpu/device.js';
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
  /** CPU time of the whole process in each step (every thread: on lavapipe the GPU's work too), ms: less swayed than wall time by other processes */
  cpuMs: number[];
  dispatches: number[];
  /** pipelineStats's counters (created, and the runtime's split of them) over the first step, and before it */
  firstStepPipelines: Record<string, number>;
  pipelinesBeforeFirstStep: Record<string, number>;
  /** the labels (kernel names) of the pipelines compiled synchronously during the first step */
  firstStepCompiled: string[];
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

// which kernels a step compiles on the main thread: the device's synchronous pipeline creation, watched (labels are kernel names)
const firstStepCompiled: string[] = [];
let watching = false;
if (opts.device === 'webgpu') {
  const gpu = currentDevice().device;
  const create = gpu.createComputePipeline.bind(gpu);
  gpu.createComputePipeline = (d: GPUComputePipelineDescriptor) => {
    if (watching) firstStepCompiled.push(d.label ?? '(unlabelled)');
    return create(d);
  };
}

const stepMs: number[] = [], cpuMs: number[] = [], dispatches: number[] = [];
let firstStepPipelines: Record<string, number> = {}, pipelinesBeforeFirstStep: Record<string, number> = {}, setupMs = 0;
const { losses } = await mod.train(opts, async (k, step) => {
  const p0 = counters(), d0 = dispatchStats.count;
  if (k === 0) {
    setupMs = performance.now() - start;
    pipelinesBeforeFirstStep = minus(p0, before);
  }
  watching = k === 0;
  const t0 = performance.now(), c0 = process.cpuUsage();
  const loss = await step();
  watching = false;
  stepMs.push(performance.now() - t0);
  const c = process.cpuUsage(c0);
  cpuMs.push((c.user + c.system) / 1000);
  dispatches.push(dispatchStats.count - d0);
  if (k === 0) firstStepPipelines = minus(counters(), p0);
  return loss;
});
if (opts.device === 'webgpu') releaseWebGpu();
const out: Measured = {
  program, device: opts.device, adapter, steps: opts.steps, warmup, losses, stepMs, cpuMs, dispatches,
  firstStepPipelines, pipelinesBeforeFirstStep, firstStepCompiled, setupMs, loadAverage: loadavg(),
};
console.log(JSON.stringify(out));
