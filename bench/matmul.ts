// Benchmark: GFLOP/s of one float32 matmul, kusari against TensorFlow.js and jax-js, on the CPU and WebGPU.
// Run from the repository root: npx tsx bench/matmul.ts [--devices cpu,webgpu] [--reps N] [--warmup N] [--batch N] [--timeout S]

import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { RandomState, array, type NDArray } from 'kusari';
import { matmulArray as matmul } from '../runtime/ops/matmul/kernels.js';
import {
  againstFastestPeer, deviceHeading, eachDevice, errorText, finishBench, median, peerVersions, positiveInt, printHeading, rounds, safely,
  startBench, type Device, type Jax,
} from './harness.js';

const BENCH = 'matmul';
/** (m, k, n): C (m, n) = A (m, k) @ B (k, n); the first is the MLP's first layer at batch 100. */
const SHAPES: readonly (readonly [number, number, number])[] = [[100, 784, 1000], [512, 512, 512]];
/** Products per timed sample, so one read's latency does not dominate; the CPU needs fewer. */
const BATCH: Record<Device, number> = { cpu: 2, webgpu: 10 };
/** Entries of C checked against a float64 dot product, so a fast wrong kernel does not pass. */
const CHECKED = 64;

interface Operands { m: number; k: number; n: number; a: Float32Array<ArrayBuffer>; b: Float32Array<ArrayBuffer> }

/**
 * One library's matmul on one shape: `run(count)` performs `count` products of the same
 * operands and resolves once all have finished, with the last product's values.
 */
interface Runner { run(count: number): Promise<Float32Array>; dispose(): void }
interface Contender { name: string; setup(ops: Operands): Promise<Runner> }

const kusari = (device: Device): Contender => ({
  name: 'kusari',
  async setup({ m, k, n, a, b }) {
    const A = array(a, [m, k]).to(device), B = array(b, [k, n]).to(device);
    return {
      async run(count) {
        let c: NDArray | null = null;
        for (let i = 0; i < count; i++) c = matmul(A, B);
        // the GPU queue runs in order: reading the last product waits for all of them
        return (await c!.data()) as Float32Array;
      },
      dispose() {},
    };
  },
});

const tfjs: Contender = {
  name: 'tfjs',
  async setup({ m, k, n, a, b }) {
    const A = tf.tensor2d(a, [m, k]), B = tf.tensor2d(b, [k, n]);
    return {
      async run(count) {
        const cs = Array.from({ length: count }, () => tf.matMul(A, B));
        const values = (await cs.at(-1)!.data()) as Float32Array;
        tf.dispose(cs);
        return values;
      },
      dispose() { tf.dispose([A, B]); },
    };
  },
};


const jaxJs = (jax: Jax): Contender => ({
  name: 'jax-js',
  async setup({ m, k, n, a, b }) {
    const { numpy: np } = jax;
    const A = np.array(a).reshape([m, k]), B = np.array(b).reshape([k, n]);
    return {
      async run(count) {
        // jax-js is lazy: an array nobody realizes is never computed, so realize every product
        const cs = Array.from({ length: count }, () => np.matmul(A.ref, B.ref));
        const last = cs.pop()!;
        await Promise.all(cs.map((c) => c.blockUntilReady()));
        for (const c of cs) c.dispose();
        return (await last.data()) as Float32Array;  // data() consumes `last`
      },
      dispose() { A.dispose(); B.dispose(); },
    };
  },
});

interface Row {
  device: Device;
  shape: { m: number; k: number; n: number };
  reps: number;
  warmup: number;
  batch: number;
  /** median GFLOP/s (2mnk per product), by library; absent where the library failed */
  gflops: Record<string, number>;
  /** median ms per product */
  msPerProduct: Record<string, number>;
  /** kusari's GFLOP/s over the fastest peer's: above 1, kusari is faster */
  ratio: number | null;
  fastestPeer: string | null;
  /** largest |C - float64 reference| over CHECKED entries, relative to the reference's largest |entry| */
  maxRelError: Record<string, number>;
  errors: Record<string, string>;
  samplesMs: Record<string, number[]>;
}

async function measure(device: Device, [m, k, n]: readonly [number, number, number], contenders: readonly Contender[], reps: number, warmup: number, batch: number): Promise<Row> {
  const rng = new RandomState(0);
  const ops: Operands = {
    m, k, n,
    a: Float32Array.from({ length: m * k }, () => rng.normal()),
    b: Float32Array.from({ length: k * n }, () => rng.normal()),
  };
  const checks = Array.from({ length: CHECKED }, () => {
    const i = rng.nextU32() % m, j = rng.nextU32() % n;
    let dot = 0;
    for (let p = 0; p < k; p++) dot += ops.a[i * k + p] * ops.b[p * n + j];
    return { at: i * n + j, dot };
  });
  const scale = Math.max(...checks.map((c) => Math.abs(c.dot)));

  const errors: Record<string, string> = {}, maxRelError: Record<string, number> = {};
  const runners = new Map<string, Runner>();
  for (const c of contenders) {
    try {
      runners.set(c.name, await c.setup(ops));
    } catch (e) {
      errors[c.name] = `setup: ${errorText(e)}`;
    }
  }
  const samples: Record<string, number[]> = {};
  for (const name of runners.keys()) samples[name] = [];

  const sample = async (name: string, timed: boolean) => {
    const runner = runners.get(name);
    if (runner === undefined) return;
    try {
      const start = performance.now();
      const c = await runner.run(batch);
      const ms = performance.now() - start;
      const err = Math.max(...checks.map(({ at, dot }) => Math.abs(c[at] - dot))) / scale;
      if (!(err < 1e-3)) throw new Error(`wrong product: relative error ${err} against a float64 reference`);
      maxRelError[name] = Math.max(maxRelError[name] ?? 0, err);
      if (timed) samples[name].push(ms);
    } catch (e) {
      errors[name] = `${timed ? 'timed sample' : 'warm-up'}: ${errorText(e)}`;
      runners.delete(name);
      safely(() => runner.dispose());
    }
  };
  const names = contenders.map((c) => c.name);
  await rounds(names, warmup, reps, sample);
  for (const runner of runners.values()) safely(() => runner.dispose());

  const gflops: Record<string, number> = {}, msPerProduct: Record<string, number> = {};
  for (const name of names) {
    if (errors[name] !== undefined) continue;
    msPerProduct[name] = median(samples[name]) / batch;
    gflops[name] = (2 * m * k * n) / (msPerProduct[name] * 1e6);
  }
  return { device, shape: { m, k, n }, reps, warmup, batch, gflops, msPerProduct, ...againstFastestPeer(gflops, 'higher'), maxRelError, errors, samplesMs: samples };
}

/** Peers that could not start on a device, with the first line of their error. */
const unavailable: string[] = [];

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: 'cpu,webgpu' },
    reps: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '2' },
    batch: { type: 'string' },
    timeout: { type: 'string', default: '900' },
  },
});
const reps = positiveInt(BENCH, 'reps', values.reps), warmup = positiveInt(BENCH, 'warmup', values.warmup);
const { devices, gpu, loadBefore } = await startBench(BENCH, values);
const rows: Row[] = [];
await eachDevice(devices, gpu, { kusari, tfjs, jax: (jax) => [jaxJs(jax)] }, unavailable, async (device, contenders) => {
  const batch = values.batch === undefined ? BATCH[device] : positiveInt(BENCH, 'batch', values.batch);
  for (const shape of SHAPES) rows.push(await measure(device, shape, contenders, reps, warmup, batch));
});

const versions = peerVersions(devices);
printHeading(`float32 matmul C = A @ B: median GFLOP/s (2mnk per product) over ${reps} samples after ${warmup} warm-up samples`, versions);
for (const device of devices) {
  const mine = rows.filter((r) => r.device === device);
  const names = [...new Set(mine.flatMap((r) => [...Object.keys(r.gflops), ...Object.keys(r.errors)]))];
  console.log(`${deviceHeading(device, gpu)}, ${mine[0]?.batch} products per sample`);
  console.log(['m x k x n'.padEnd(16), ...names.map((x) => `${x} GFLOP/s`.padStart(18)), 'kusari/fastest peer'.padStart(24)].join(''));
  for (const r of mine) {
    const cells = names.map((x) => (r.gflops[x] !== undefined ? r.gflops[x].toFixed(2) : 'failed').padStart(18));
    const ratio = r.ratio === null ? '-' : `${r.ratio.toFixed(2)} (${r.fastestPeer})`;
    console.log([`${r.shape.m}x${r.shape.k}x${r.shape.n}`.padEnd(16), ...cells, ratio.padStart(24)].join(''));
  }
}
const failures = rows.flatMap((r) => Object.entries(r.errors).map(([x, e]) => `${r.device} ${r.shape.m}x${r.shape.k}x${r.shape.n} ${x}: ${e}`));
finishBench(BENCH, { loadBefore, versions, gpu, unavailable, problems: failures, results: rows });
