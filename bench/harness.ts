// What the benchmarks share: a run's start and end (flags, hang guard, versions, report file), medians, timed rounds, and the WebGPU setup every library runs on.

import * as tf from '@tensorflow/tfjs';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { RandomState } from '../runtime/array/random.js';
import { releaseWebGpu, useDevice } from '../runtime/array/webgpu/index.js';

export type Device = 'cpu' | 'webgpu';
export const DEVICES: readonly Device[] = ['cpu', 'webgpu'];

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** A flag that must be a positive integer (or, with `min` 0, zero too). */
export function positiveInt(bench: string, flag: string, text: string, min: 0 | 1 = 1): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new Error(`${bench}: --${flag} must be ${min === 1 ? 'a positive integer' : 'an integer >= 0'}, got '${text}'`);
  return n;
}

/** `--devices cpu,webgpu`: a subset of DEVICES, in their order. */
export function parseDevices(bench: string, text: string): Device[] {
  const asked = text.split(',').map((d) => d.trim()).filter((d) => d !== '');
  const unknown = asked.filter((d) => !(DEVICES as readonly string[]).includes(d));
  if (unknown.length > 0 || asked.length === 0) {
    throw new Error(`${bench}: --devices takes a comma-separated subset of ${DEVICES.join(',')}, got '${text}'`);
  }
  return DEVICES.filter((d) => asked.includes(d));
}

/**
 * Stop the process if the whole run takes longer than `seconds`: a hung GPU read should be
 * reported, not waited on forever. Unref'd, so it never keeps Node alive by itself.
 */
export function guardAgainstHangs(bench: string, seconds: number): void {
  setTimeout(() => {
    console.error(`${bench}: still running after ${seconds} s (--timeout); giving up. A GPU read that never resolves looks like this.`);
    process.exit(124);
  }, seconds * 1000).unref();
}

/**
 * Call when all work is done and every device released. The timer is unref'd, so it fires only
 * if something else keeps the event loop alive, which after a run means a device still lives.
 */
export function expectExit(bench: string, seconds = 10): void {
  setTimeout(() => {
    console.error(`${bench}: finished, but Node was still alive ${seconds} s later: a GPU device was not destroyed (Dawn keeps the process alive while one lives)`);
    process.exit(3);
  }, seconds * 1000).unref();
}

/** The adapter's own description, as WebGPU reports it. */
export interface AdapterName { vendor: string; architecture: string; device: string; description: string }

export interface WebGpu {
  /** The one Dawn instance; also navigator.gpu, where tfjs and jax-js look for it. */
  readonly gpu: GPU;
  /** An adapter from it, for kusari (tfjs and jax-js each request their own from navigator.gpu). */
  readonly adapter: GPUAdapter;
  readonly name: AdapterName;
}

/**
 * Start Dawn (the `webgpu` package) and make it the environment's WebGPU: its constants as
 * globals and its GPU as navigator.gpu, which tfjs-backend-webgpu checks when it is imported
 * and jax-js's init('webgpu') asks for an adapter. Node 20 has no navigator; Node 21+ has one
 * without gpu.
 */
export async function startWebGpu(bench: string): Promise<WebGpu> {
  const { create, globals } = await import('webgpu');
  for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const gpu = create([]);
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav === undefined) {
    // jax-js reads navigator.userAgent when it plans kernels
    Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: `Node.js/${process.version}` }, configurable: true, writable: true });
  } else {
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  }
  const adapter = await gpu.requestAdapter();
  if (adapter === null) throw new Error(`${bench}: Dawn found no WebGPU adapter (requestAdapter returned null); is a Vulkan driver installed? See scripts/setup-webgpu.sh`);
  const { vendor, architecture, device, description } = adapter.info;
  return { gpu, adapter, name: { vendor, architecture, device, description } };
}

export const adapterLabel = (n: AdapterName) => [n.vendor, n.architecture, n.device, n.description].filter(Boolean).join(' ') || 'unnamed adapter';

/** The installed version of a package, from its package.json (some, like jax-js, do not export it). */
export function installedVersion(pkg: string): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (json.name === pkg && json.version !== undefined) return json.version;
    } catch {
      // no package.json here: keep climbing
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

/** Write bench/results/<name>.json (git-ignored) and say where. */
export function writeReport(name: string, report: object): void {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

/** Run a cleanup that may throw because its library already failed; the run goes on. */
export function safely(cleanup: () => void): void {
  try { cleanup(); } catch { /* nothing left to release */ }
}

export const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/**
 * The machine's 1-minute load and core count. Other work on the cores slows every library
 * (lavapipe runs "GPU" kernels on the CPU), so on a busy machine trust ratios over times.
 */
export function machineLoad(): { load1: number; cores: number } {
  return { load1: Math.round(loadavg()[0] * 100) / 100, cores: availableParallelism() };
}

/** The machine's state a report records before and after its run. */
export type Load = ReturnType<typeof machineLoad>;

/**
 * Say so when the machine was busy as we started. (Only then: by the end the load average
 * counts our own run, lavapipe's threads included.)
 */
export function warnIfBusy(bench: string, before: Load): void {
  if (before.load1 > before.cores) {
    console.log(`! ${bench}: the machine was busy as we started (load ${before.load1} on ${before.cores} cores): times are inflated and noisy; ratios hold better`);
  }
}

/**
 * What every benchmark does first, from its --devices and --timeout flags: the devices
 * parsed, the hang guard started, the machine's load noted, and Dawn started where a device
 * is webgpu.
 */
export async function startBench(bench: string, flags: { devices: string; timeout: string }): Promise<{ devices: Device[]; gpu: WebGpu | null; loadBefore: Load }> {
  const devices = parseDevices(bench, flags.devices);
  guardAgainstHangs(bench, positiveInt(bench, 'timeout', flags.timeout));
  const loadBefore = machineLoad();
  const gpu = devices.includes('webgpu') ? await startWebGpu(bench) : null;
  return { devices, gpu, loadBefore };
}

/** The versions a report names: Node's and each peer package's (the WebGPU ones only where a device is webgpu). */
export function peerVersions(devices: readonly Device[], { tfjs = true } = {}): Record<string, string> {
  const gpu = devices.includes('webgpu');
  const versions: Record<string, string | false> = {
    node: process.version,
    tfjs: tfjs && tf.version.tfjs,
    tfjsBackendWebgpu: tfjs && gpu && installedVersion('@tensorflow/tfjs-backend-webgpu'),
    jaxJs: installedVersion('@jax-js/jax'),
    webgpu: gpu && installedVersion('webgpu'),
  };
  return Object.fromEntries(Object.entries(versions).filter((e): e is [string, string] => e[1] !== false));
}

/**
 * Training benches start every library from the same weights and data, so kusari's first and
 * last losses should match each peer's to 1e-3: a line for each peer whose losses do not.
 */
export function lossDrifts(label: string, lossFirstLast: Record<string, readonly number[]>): string[] {
  const mine = lossFirstLast.kusari;
  if (mine === undefined) return [];
  const show = (ls: readonly number[]) => ls.map((l) => l.toFixed(5)).join(', ');
  return Object.entries(lossFirstLast)
    .filter(([n, theirs]) => n !== 'kusari' && theirs.some((l, i) => Math.abs(l - mine[i]) > 1e-3 * Math.abs(l)))
    .map(([n, theirs]) => `${label}: kusari's first and last losses (${show(mine)}) differ from ${n}'s (${show(theirs)})`);
}

/** A report's first two lines: what it measures, then the versions. */
export function printHeading(title: string, versions: Record<string, string>): void {
  console.log(title);
  console.log(Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', '));
}

/** A device's heading over its table, naming the adapter on webgpu. */
export const deviceHeading = (device: Device, gpu: WebGpu | null): string => `\n${device}${device === 'webgpu' && gpu !== null ? ` (${adapterLabel(gpu.name)})` : ''}`;

/**
 * What every benchmark does last: a `!` line for each problem (a library that could not start,
 * a failure, a mismatch), a warning if the machine was busy as it started, the JSON report
 * (`extra` beside the versions), and the guard against a process that will not exit.
 */
export function finishBench(bench: string, run: { loadBefore: Load; versions: Record<string, string>; gpu: WebGpu | null; unavailable: readonly string[]; problems: readonly string[]; results: unknown; extra?: Record<string, unknown> }): void {
  for (const line of [...run.unavailable, ...run.problems]) console.log(`! ${line}`);
  const loadAfter = machineLoad();
  warnIfBusy(bench, run.loadBefore);
  writeReport(bench, {
    bench,
    date: new Date().toISOString(),
    ...run.versions,
    ...run.extra,
    adapter: run.gpu?.name,
    machine: { before: run.loadBefore, after: loadAfter },
    unavailable: run.unavailable,
    results: run.results,
  });
  expectExit(bench);
}

export type Jax = typeof import('@jax-js/jax');

/** How a benchmark makes its contender for each library. */
export interface Peers<C> {
  kusari(device: Device): C;
  tfjs: C;
  /** jax-js's contenders, once its device for this row is the default */
  jax(jax: Jax): C[];
}

/**
 * The libraries on one device, each started there; `stop` releases what was started. A
 * library that cannot start is left out and its first error line added to `unavailable`.
 * On the CPU, jax-js runs on its WebAssembly (SIMD) device, the fastest JavaScript peer.
 */
export async function contendersOn<C>(device: Device, gpu: WebGpu | null, peers: Peers<C>, unavailable: string[]): Promise<{ contenders: C[]; stop(): void }> {
  const contenders: C[] = [], stops: (() => void)[] = [];
  const attempt = async (what: string, start: () => Promise<void>) => {
    try {
      await start();
    } catch (e) {
      unavailable.push(`${what}: ${errorText(e)}`);
    }
  };
  const jaxDevice = device === 'cpu' ? 'wasm' : 'webgpu';
  if (device === 'cpu') {
    await tf.setBackend('cpu');
    contenders.push(peers.kusari('cpu'), peers.tfjs);
  } else {
    await attempt('kusari webgpu', async () => {
      await useDevice(gpu!.adapter);
      contenders.push(peers.kusari('webgpu'));
      stops.push(releaseWebGpu);
    });
    await attempt('tfjs webgpu', async () => {
      await import('@tensorflow/tfjs-backend-webgpu'); // registers 'webgpu' now that navigator.gpu exists
      if (!(await tf.setBackend('webgpu'))) throw new Error("tf.setBackend('webgpu') returned false");
      const backend = tf.backend() as unknown as { device: GPUDevice };
      contenders.push(peers.tfjs);
      stops.push(() => { tf.removeBackend('webgpu'); backend.device.destroy(); });
    });
  }
  await attempt(`jax-js ${jaxDevice}`, async () => {
    const jax = await import('@jax-js/jax');
    if (!(await jax.init(jaxDevice)).includes(jaxDevice)) throw new Error(`init('${jaxDevice}') did not start the ${jaxDevice} device (see its console error above)`);
    jax.defaultDevice(jaxDevice);
    contenders.push(...peers.jax(jax));
    if (jaxDevice === 'webgpu') stops.push(() => jax.getWebGPUDevice().destroy());
  });
  return { contenders, stop() { for (const s of stops) safely(s); } };
}

/**
 * The best peer by a figure each library measured (absent where it failed) and kusari's figure
 * over that peer's; `better` says which way is faster: 'lower' for times, 'higher' for rates.
 */
export function againstFastestPeer(figures: Record<string, number>, better: 'lower' | 'higher'): { fastestPeer: string | null; ratio: number | null } {
  const peers = Object.keys(figures).filter((n) => n !== 'kusari');
  const beats = (a: string, b: string) => (better === 'lower' ? figures[a] <= figures[b] : figures[a] >= figures[b]);
  const fastestPeer = peers.length === 0 ? null : peers.reduce((a, b) => (beats(a, b) ? a : b));
  const ratio = fastestPeer === null || figures.kusari === undefined ? null : figures.kusari / figures[fastestPeer];
  return { fastestPeer, ratio };
}

/**
 * `body` on each device in turn with the libraries that started there (contendersOn), which
 * are stopped after it, whether it returns or throws.
 */
export async function eachDevice<C>(devices: readonly Device[], gpu: WebGpu | null, peers: Peers<C>, unavailable: string[], body: (device: Device, contenders: C[]) => Promise<void>): Promise<void> {
  for (const device of devices) {
    const { contenders, stop } = await contendersOn(device, gpu, peers, unavailable);
    try {
      await body(device, contenders);
    } finally {
      stop();
    }
  }
}

/**
 * `warmup` untimed rounds, then `reps` timed ones, each in a fresh order (shuffled, seeded:
 * every run of a bench sees the same orders), so no library always inherits the same other's
 * garbage, queue state or cold caches. Rotating who goes first, as before, kept every
 * library behind the same predecessor: in bench/fusion.ts's B3 the contender listed after
 * kusari unfused (17 kernels a step) was 0.3-0.6 ms slower than it measured elsewhere in the list.
 *
 * `burst` > 1: in a timed round each library runs that many samples in a row and only the
 * first is untimed, so the figures are of back-to-back samples, as in a training loop, rather
 * than of one sample after the other libraries have evicted its code and data from the caches.
 *
 * `warmup` as a number: that many untimed rounds. As a Warmup, its `rounds`, then each library
 * alone settles (see Warmup). Returns the untimed samples each library took before timing.
 */
export async function rounds(names: readonly string[], warmup: number | Warmup, reps: number, run: (name: string, timed: boolean) => Promise<void>, burst = 1): Promise<Record<string, number>> {
  const { rounds: first, upTo = 0, ms = 0 } = typeof warmup === 'number' ? { rounds: warmup } : warmup;
  const untimed: Record<string, number> = {};
  for (const name of names) untimed[name] = first;
  for (let i = 0; i < first; i++) for (const name of names) await run(name, false);
  for (const name of names) {
    for (const until = performance.now() + ms; untimed[name] < upTo && performance.now() < until; untimed[name]++) await run(name, false);
  }
  const random = new RandomState(0x6b757361);
  const order = names.slice();
  for (let r = 0; r < reps; r++) {
    for (let j = order.length - 1; j > 0; j--) {
      const k = Math.floor(random.uniform() * (j + 1));
      [order[j], order[k]] = [order[k], order[j]];
    }
    for (const name of order) for (let b = 0; b < burst; b++) await run(name, burst === 1 || b > 0);
  }
  return untimed;
}

/**
 * A warm-up that lets each library reach the speed it keeps: `rounds` untimed rounds, then each
 * library alone takes more untimed samples until it has taken `upTo` in all or `ms` have passed.
 * A library whose sample is about a millisecond of JS runs much of that JS unoptimized for its
 * first thousand or two samples: V8 optimizes a function only after its calls have run some
 * tens of kilobytes of bytecode, and most of a training step's functions run once or a few
 * times a step (measured in bench/mlp-step.ts). A few thousand rounds would cost minutes, one
 * library taking 77 ms a step there; the budget caps each library's share.
 */
export interface Warmup { readonly rounds: number; readonly upTo?: number; readonly ms?: number }

/** A contender's training step on fixed data: the loss of each step, then cleanup. */
export interface StepTrainer { step(): Promise<number>; dispose(): void }

/** What racing step trainers measured, by contender name. */
export interface Race {
  medianMs: Record<string, number>;
  medianCpuMs: Record<string, number>;
  /** kusari's median over the fastest peer's: below 1, kusari is faster */
  ratio: number | null;
  fastestPeer: string | null;
  errors: Record<string, string>;
  samplesMs: Record<string, number[]>;
  samplesCpuMs: Record<string, number[]>;
  /** each library's loss at its first step and at the last step that every library took */
  lossFirstLast: Record<string, [number, number]>;
  /** the untimed (warm-up) samples each library took */
  untimed: Record<string, number>;
}

/**
 * Build each contender's trainer, warm up, then time steps in rotating order (`rounds`); a
 * library that throws or returns a non-finite loss leaves the race with its error recorded.
 * `beforeDispose` sees the surviving trainers last (mlp-step reads kusari's dispatch count);
 * `burst` as in `rounds`.
 */
export async function race<T extends StepTrainer>(
  contenders: readonly { name: string; setup(): Promise<T> }[], warmup: number | Warmup, reps: number,
  beforeDispose?: (trainers: ReadonlyMap<string, T>, errors: Record<string, string>) => Promise<void>,
  burst = 1,
): Promise<Race> {
  const errors: Record<string, string> = {};
  const trainers = new Map<string, T>();
  for (const c of contenders) {
    try {
      trainers.set(c.name, await c.setup());
    } catch (e) {
      errors[c.name] = `setup: ${errorText(e)}`;
    }
  }
  const samples: Record<string, number[]> = {}, cpuSamples: Record<string, number[]> = {}, losses: Record<string, number[]> = {};
  for (const name of trainers.keys()) { samples[name] = []; cpuSamples[name] = []; losses[name] = []; }
  const timeStep = async (name: string, timed: boolean) => {
    const trainer = trainers.get(name);
    if (trainer === undefined) return;
    try {
      // the CPU clock read before the wall clock starts, so that its system call is not timed
      const cpuStart = process.cpuUsage(), start = performance.now();
      const loss = await trainer.step();
      const ms = performance.now() - start, cpu = process.cpuUsage(cpuStart);
      if (!Number.isFinite(loss)) throw new Error(`a step returned loss ${loss}`);
      losses[name].push(loss);
      if (timed) {
        samples[name].push(ms);
        cpuSamples[name].push((cpu.user + cpu.system) / 1000);
      }
    } catch (e) {
      errors[name] = `${timed ? 'timed step' : 'warm-up'}: ${errorText(e)}`;
      trainers.delete(name);
      safely(() => trainer.dispose());
    }
  };
  const names = contenders.map((c) => c.name);
  const untimed = await rounds(names, warmup, reps, timeStep, burst);
  await beforeDispose?.(trainers, errors);
  for (const trainer of trainers.values()) safely(() => trainer.dispose());
  const medianMs: Record<string, number> = {}, medianCpuMs: Record<string, number> = {};
  const lossFirstLast: Record<string, [number, number]> = {};
  // the last step every library took: a library that settled longer took more (Warmup)
  const common = Math.min(...names.filter((n) => errors[n] === undefined).map((n) => losses[n].length));
  for (const name of names) {
    if (errors[name] !== undefined) continue;
    medianMs[name] = median(samples[name]);
    medianCpuMs[name] = median(cpuSamples[name]);
    lossFirstLast[name] = [losses[name][0], losses[name][common - 1]];
  }
  return { medianMs, medianCpuMs, ...againstFastestPeer(medianMs, 'lower'), errors, samplesMs: samples, samplesCpuMs: cpuSamples, lossFirstLast, untimed };
}
