// Memory over a long run: the README's MLP trained in a loop, RSS (CPU) or GPU bytes in use sampled after forced collections.
// Usage: node --import tsx --min-semi-space-size=16 scripts/memcheck.ts [--device cpu|webgpu] [--steps N] [--every N] [--await] [--input-grad] [--json]
//   --await reads the loss each step (`await loss.item()`); without it no step awaits anything.
//   --input-grad feeds the batch as one Variable that requires a gradient, reused by every step.
//   --min-semi-space-size=16 starts V8's young generation at the size it would grow to anyway,
//   so that its one-time growth (16 MiB of RSS, part way through) is not mistaken for a leak.

import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import {
  F, L, Variable, array, collect, initWebGpu, memory, optimizers, randomNormal, releaseWebGpu, seed,
  type Device, type VariableLike,
} from '../runtime/index.js';

class MLP extends L.Chain {
  l1 = new L.Linear(784, 100);
  l2 = new L.Linear(100, 100);
  l3 = new L.Linear(100, 10);
  forward(x: VariableLike): Variable {
    return this.l3.forward(F.relu(this.l2.forward(F.relu(this.l1.forward(x)))));
  }
}

export interface MemcheckOptions {
  device: Device;
  steps: number;
  /** sample every this many steps */
  every: number;
  /** `await loss.item()` after each step (otherwise nothing is awaited between samples) */
  awaitLoss: boolean;
  /** feed the batch as one Variable that requires a gradient (accumulating over the steps) */
  inputGrad?: boolean;
}

export interface MemcheckResult {
  /** what was measured: RSS of the process (CPU) or GPU bytes held by live arrays (WebGPU) */
  measure: 'rss' | 'gpu bytes in use';
  /**
   * per sample: `bytes` measured after a forced collection; `pooled` free GPU buffers kept;
   * `peak` the most RSS (CPU) or GPU bytes in use plus pooled (WebGPU) seen since the last
   * sample, read without collecting (every 100 steps on the CPU, every step on the GPU)
   */
  samples: { step: number; bytes: number; pooled: number; peak: number }[];
  /** (last - first) / first over the samples' `bytes` */
  growth: number;
  /** (last - first) / first over the samples' `peak` */
  peakGrowth: number;
  firstLoss: number;
  lastLoss: number;
}

/**
 * Train the README's MLP (784-100-100-10, batch 100, Adam) with
 * `optimizer.update(() => F.softmaxCrossEntropy(model.forward(x), t))` for `steps` steps,
 * sampling memory every `every` steps after a forced collection (the only await between
 * samples unless `awaitLoss`). The caller has started WebGPU for device 'webgpu'.
 */
export async function memcheck({ device, steps, every, awaitLoss, inputGrad = false }: MemcheckOptions): Promise<MemcheckResult> {
  seed(0);
  const model = new MLP();
  if (device === 'webgpu') model.toGpu();
  const optimizer = new optimizers.Adam().setup(model);
  const batch = randomNormal([100, 784], 0, 1, { device });
  const x: VariableLike = inputGrad ? new Variable(batch) : batch;
  const t = array(Int32Array.from({ length: 100 }, (_, i) => (i * 7) % 10), [100], 'int32').to(device);
  const samples: MemcheckResult['samples'] = [];
  let loss: Variable | null = null;
  let firstLoss = NaN;
  let peak = 0;
  for (let step = 1; step <= steps; step++) {
    optimizer.update(() => (loss = F.softmaxCrossEntropy(model.forward(x), t)));
    if (awaitLoss) await loss!.item();
    if (step === 1) firstLoss = await loss!.item();
    if (device === 'webgpu') peak = Math.max(peak, memory().inUse + memory().pooled);
    else if (step % 100 === 0) peak = Math.max(peak, process.memoryUsage.rss());
    if (step % every === 0) {
      await collect(); // measure what is reachable, not what the collector has yet to visit
      const gpu = memory();
      samples.push(device === 'cpu'
        ? { step, bytes: process.memoryUsage().rss, pooled: 0, peak }
        : { step, bytes: gpu.inUse, pooled: gpu.pooled, peak });
      peak = 0;
    }
  }
  const lastLoss = await loss!.item();
  const change = (k: 'bytes' | 'peak') => (samples.length < 2 ? 0 : (samples[samples.length - 1][k] - samples[0][k]) / samples[0][k]);
  return { measure: device === 'cpu' ? 'rss' : 'gpu bytes in use', samples, growth: change('bytes'), peakGrowth: change('peak'), firstLoss, lastLoss };
}

export function report(r: MemcheckResult, label: string): string {
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const pct = (g: number) => `${(100 * g).toFixed(2)}%`;
  return [
    `${label}: ${r.measure} by step: ${r.samples.map((s) => `${s.step} ${mb(s.bytes)}`).join(', ')}`,
    `${label}: peak between samples (${r.measure === 'rss' ? 'rss' : 'in use + pooled'}): ${r.samples.map((s) => mb(s.peak)).join(', ')}`,
    `${label}: growth first to last sample ${pct(r.growth)} (peaks ${pct(r.peakGrowth)}); loss ${r.firstLoss.toFixed(4)} -> ${r.lastLoss.toFixed(4)}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      device: { type: 'string', default: 'cpu' },
      steps: { type: 'string' },
      every: { type: 'string', default: '1000' },
      await: { type: 'boolean', default: false },
      'input-grad': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const device = values.device;
  if (device !== 'cpu' && device !== 'webgpu') throw new Error(`memcheck: --device must be cpu or webgpu, got '${device}'`);
  const steps = Number(values.steps ?? (device === 'cpu' ? 10000 : 3000));
  const every = Number(values.every);
  if (!Number.isInteger(steps) || steps < 1 || !Number.isInteger(every) || every < 1) throw new Error('memcheck: --steps and --every must be positive integers');
  if (device === 'webgpu') await initWebGpu();
  const r = await memcheck({ device, steps, every, awaitLoss: values.await, inputGrad: values['input-grad'] });
  console.log(report(r, `${device}${values.await ? ', await loss.item() per step' : ', no await per step'}${values['input-grad'] ? ', input Variable with a gradient' : ''}`));
  if (values.json) console.log(JSON.stringify(r));
  if (device === 'webgpu') releaseWebGpu();
  if (!(r.growth < 0.05)) {
    console.error(`memcheck: memory grew ${(100 * r.growth).toFixed(2)}% (limit 5%)`);
    process.exitCode = 1;
  }
  // the pool may keep free buffers, but not more than about one step's worth beside live ones
  const bloated = device === 'webgpu' ? r.samples.find((q) => !(q.peak < 3 * q.bytes)) : undefined;
  if (bloated !== undefined) {
    console.error(`memcheck: up to ${bloated.peak} bytes in use + pooled before step ${bloated.step}, against ${bloated.bytes} live (limit 3x)`);
    process.exitCode = 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
