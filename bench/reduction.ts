// Benchmark: median ms of one float32 sum over a (1000, 1000) array (axis 0, axis 1, all), kusari against TensorFlow.js and jax-js, on the CPU and WebGPU.
// Run from the repository root: npx tsx bench/reduction.ts [--devices cpu,webgpu] [--reps N] [--warmup N] [--batch N] [--timeout S]

import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { RandomState, array, type NDArray } from 'kusari';
import { reduce } from '../runtime/array/xp.js';
import {
  againstFastestPeer, deviceHeading, eachDevice, errorText, finishBench, median, peerVersions, positiveInt, printHeading, rounds, safely,
  startBench, type Device, type Jax,
} from './harness.js';

const BENCH = 'reduction';
const ROWS = 1000, COLS = 1000;
/** The reductions timed: over rows (axis 0), over columns (axis 1), over everything. */
const CASES: readonly { name: string; axes: number[] }[] = [
  { name: 'sum axis 0', axes: [0] },
  { name: 'sum axis 1', axes: [1] },
  { name: 'sum (all)', axes: [0, 1] },
];
/** Sums per timed sample, so one read's latency does not dominate; the CPU needs fewer. */
const BATCH: Record<Device, number> = { cpu: 5, webgpu: 20 };

/**
 * One library's sum: `run(count)` performs `count` sums of the same array and resolves once
 * all have finished (the last one read back), with the last sum's values.
 */
interface Runner { run(count: number): Promise<Float32Array>; dispose(): void }
interface Contender { name: string; setup(x: Float32Array<ArrayBuffer>, axes: number[]): Promise<Runner> }

const kusari = (device: Device): Contender => ({
  name: 'kusari',
  async setup(x, axes) {
    const X = array(x, [ROWS, COLS]).to(device);
    return {
      async run(count) {
        let y: NDArray | null = null;
        for (let i = 0; i < count; i++) y = reduce('sum', X, axes);
        // the GPU queue runs in order: reading the last sum waits for all of them
        return (await y!.data()) as Float32Array;
      },
      dispose() {},
    };
  },
});

const tfjs: Contender = {
  name: 'tfjs',
  async setup(x, axes) {
    const X = tf.tensor2d(x, [ROWS, COLS]);
    return {
      async run(count) {
        const ys = Array.from({ length: count }, () => tf.sum(X, axes));
        const values = (await ys.at(-1)!.data()) as Float32Array;
        tf.dispose(ys);
        return values;
      },
      dispose() { tf.dispose(X); },
    };
  },
};

const jaxJs = (jax: Jax): Contender => ({
  name: 'jax-js',
  async setup(x, axes) {
    const { numpy: np } = jax;
    const X = np.array(x).reshape([ROWS, COLS]);
    return {
      async run(count) {
        // jax-js is lazy: realize every sum, not only the last
        const ys = Array.from({ length: count }, () => np.sum(X.ref, axes));
        const last = ys.pop()!;
        await Promise.all(ys.map((y) => y.blockUntilReady()));
        for (const y of ys) y.dispose();
        return (await last.data()) as Float32Array;
      },
      dispose() { X.dispose(); },
    };
  },
});

interface Row {
  device: Device;
  reduction: string;
  axes: number[];
  reps: number;
  warmup: number;
  batch: number;
  /** median ms per sum, by library; absent where the library failed */
  msPerSum: Record<string, number>;
  /** kusari's ms over the fastest peer's: below 1, kusari is faster */
  ratio: number | null;
  fastestPeer: string | null;
  /** largest |y - float64 reference| over the output, relative to the reference's largest |entry| */
  maxRelError: Record<string, number>;
  errors: Record<string, string>;
  samplesMs: Record<string, number[]>;
}

async function measure(device: Device, c: (typeof CASES)[number], contenders: readonly Contender[], reps: number, warmup: number, batch: number): Promise<Row> {
  const rng = new RandomState(0);
  const x = Float32Array.from({ length: ROWS * COLS }, () => rng.normal());
  // the float64 reference, laid out as the output is (C order over the kept axes)
  const ref = new Float64Array(c.axes.length === 2 ? 1 : c.axes[0] === 0 ? COLS : ROWS);
  for (let i = 0; i < ROWS; i++) for (let j = 0; j < COLS; j++) ref[c.axes.length === 2 ? 0 : c.axes[0] === 0 ? j : i] += x[i * COLS + j];
  const scale = Math.max(...ref.map(Math.abs));

  const errors: Record<string, string> = {}, maxRelError: Record<string, number> = {};
  const runners = new Map<string, Runner>();
  for (const k of contenders) {
    try {
      runners.set(k.name, await k.setup(x, c.axes));
    } catch (e) {
      errors[k.name] = `setup: ${errorText(e)}`;
    }
  }
  const samples: Record<string, number[]> = {};
  for (const name of runners.keys()) samples[name] = [];
  const sample = async (name: string, timed: boolean) => {
    const runner = runners.get(name);
    if (runner === undefined) return;
    try {
      const start = performance.now();
      const y = await runner.run(batch);
      const ms = performance.now() - start;
      if (y.length !== ref.length) throw new Error(`wrong sum: ${y.length} values, expected ${ref.length}`);
      let err = 0;
      for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(y[i] - ref[i]) / scale);
      if (!(err < 1e-3)) throw new Error(`wrong sum: relative error ${err} against a float64 reference`);
      maxRelError[name] = Math.max(maxRelError[name] ?? 0, err);
      if (timed) samples[name].push(ms);
    } catch (e) {
      errors[name] = `${timed ? 'timed sample' : 'warm-up'}: ${errorText(e)}`;
      runners.delete(name);
      safely(() => runner.dispose());
    }
  };
  const names = contenders.map((k) => k.name);
  await rounds(names, warmup, reps, sample);
  for (const runner of runners.values()) safely(() => runner.dispose());

  const msPerSum: Record<string, number> = {};
  for (const name of names) if (errors[name] === undefined) msPerSum[name] = median(samples[name]) / batch;
  return { device, reduction: c.name, axes: c.axes, reps, warmup, batch, msPerSum, ...againstFastestPeer(msPerSum, 'lower'), maxRelError, errors, samplesMs: samples };
}

const unavailable: string[] = [];
const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: 'cpu,webgpu' },
    reps: { type: 'string', default: '9' },
    warmup: { type: 'string', default: '3' },
    batch: { type: 'string' },
    timeout: { type: 'string', default: '900' },
  },
});
const reps = positiveInt(BENCH, 'reps', values.reps), warmup = positiveInt(BENCH, 'warmup', values.warmup);
const { devices, gpu, loadBefore } = await startBench(BENCH, values);
const rows: Row[] = [];
await eachDevice(devices, gpu, { kusari, tfjs, jax: (jax) => [jaxJs(jax)] }, unavailable, async (device, contenders) => {
  const batch = values.batch === undefined ? BATCH[device] : positiveInt(BENCH, 'batch', values.batch);
  for (const c of CASES) rows.push(await measure(device, c, contenders, reps, warmup, batch));
});

const versions = peerVersions(devices);
printHeading(`float32 sum over a (${ROWS}, ${COLS}) array: median ms per sum over ${reps} samples after ${warmup} warm-up samples`, versions);
for (const device of devices) {
  const mine = rows.filter((r) => r.device === device);
  const names = [...new Set(mine.flatMap((r) => [...Object.keys(r.msPerSum), ...Object.keys(r.errors)]))];
  console.log(`${deviceHeading(device, gpu)}, ${mine[0]?.batch} sums per sample`);
  console.log(['reduction'.padEnd(14), ...names.map((k) => `${k} ms`.padStart(14)), 'kusari/fastest peer'.padStart(24)].join(''));
  for (const r of mine) {
    const cells = names.map((k) => (r.msPerSum[k] !== undefined ? r.msPerSum[k].toFixed(3) : 'failed').padStart(14));
    const ratio = r.ratio === null ? '-' : `${r.ratio.toFixed(2)} (${r.fastestPeer})`;
    console.log([r.reduction.padEnd(14), ...cells, ratio.padStart(24)].join(''));
  }
}
const failures = rows.flatMap((r) => Object.entries(r.errors).map(([k, e]) => `${r.device} ${r.reduction} ${k}: ${e}`));
finishBench(BENCH, { loadBefore, versions, gpu, unavailable, problems: failures, results: rows });
