// Declared kernels create their pipelines in the background as soon as a WebGPU device exists, so a built app's first step compiles none.

import { BACKENDS } from '../array/backend.js';
import { onLibraryKernels, type LibraryVariant } from '../array/library-kernels.js';
import { liveContext, onDevice } from '../array/webgpu/device.js';
import { pipelineAsync, pipelineStats } from '../array/webgpu/pipelines.js';

/** One declared kernel's precompile on the current device: resolves to the pipelines it created. */
type Job = () => Promise<number>;

// Every declared kernel's job, kept for the devices to come: a program may release its
// device and acquire another, whose pipeline cache starts empty.
const jobs: Job[] = [];
const running = new Set<Promise<void>>();
const failures: Error[] = [];
const counts = { started: 0, made: 0 };

/**
 * Run `job` now if a WebGPU device exists, and again on every device acquired later
 * (initWebGpu(), useDevice(), or the first toGpu()). It runs unawaited: its pipelines are
 * made with createComputePipelineAsync, and a dispatch that needs one of them before it is
 * ready waits for it (webgpu/queue.ts) rather than compiling it again.
 */
export function precompileInBackground(job: Job): void {
  // the first declared kernel makes this a built app: the library's kernels join it
  if (!libraryJoined) {
    libraryJoined = true;
    for (const k of library) enlist(k);
  }
  enlist(job);
}

function enlist(job: Job): void {
  jobs.push(job);
  const ctx = liveContext();
  if (ctx !== null && ctx.lost === null) start(job);
}

// ---- the library's own kernels -------------------------------------------------------------

const library: Job[] = [];
let libraryJoined = false;
const libraryCounts = { families: 0, variants: 0 };

// Each family an op registers (array/library-kernels.ts) becomes one job, started with the
// declared kernels once the app declares one.
onLibraryKernels((variants) => {
  libraryCounts.families++;
  // async: a listing that throws rejects (reported by precompiled()) rather than breaking defineFusedKernel or initWebGpu
  const job: Job = async () => createVariants(variants());
  library.push(job);
  if (libraryJoined) enlist(job);
});

async function createVariants(vs: readonly LibraryVariant[]): Promise<number> {
  const gpu = BACKENDS.webgpu;
  if (gpu === undefined) return 0;
  libraryCounts.variants += vs.length;
  const made = vs.map((v): Promise<number | boolean> => ('source' in v
    ? pipelineAsync(v.name, v.source)
    : 'roots' in v
      ? gpu.precompile(v.roots, v.inputs, v.outputs, v.aliases)
      : gpu.precompileReduce?.(v.reduce, v.map, v.inputs, v.output, v.kept, v.reduced) ?? Promise.resolve(0)));
  return (await Promise.all(made)).reduce<number>((n, m) => n + Number(m), 0);
}

onDevice(() => {
  for (const job of jobs) start(job);
});

function start(job: Job): void {
  counts.started++;
  const done: Promise<void> = job().then(
    (made) => { counts.made += made; },
    // not thrown here (nobody awaits this): the kernel's first dispatch compiles it
    // synchronously and reports the error where it is used; precompiled() rejects with it
    (e: unknown) => { failures.push(e instanceof Error ? e : new Error(String(e))); },
  ).finally(() => running.delete(done));
  running.add(done);
}

/**
 * Resolves once every background precompile started so far has finished, to how many
 * pipelines they created; rejects with the first compilation error seen. A program need
 * not call it (dispatches wait for the pipelines they need); a benchmark that times a first
 * step apart from the compilation can.
 */
export async function precompiled(): Promise<number> {
  while (running.size > 0) await Promise.all(running);
  const failure = failures.shift();
  if (failure !== undefined) throw failure;
  return counts.made;
}

/** What pipeline creation has cost so far (counters since the process started; read a difference around a step). */
export interface CompileStats {
  /** pipelines created in all, ahead of time or at first use */
  readonly created: number;
  /** pipelines a dispatch had to compile synchronously on the main thread: a built app's first step should add none */
  readonly onDemand: number;
  /** dispatches that waited for a pipeline still being created in the background */
  readonly awaited: number;
  /** background precompiles started (one per declared kernel or library family, and device) and pipelines they created */
  readonly background: { readonly started: number; readonly created: number };
  /** the library's kernel families registered (libraryKernels) and the variants they listed on the devices so far */
  readonly library: { readonly families: number; readonly variants: number; readonly joined: boolean };
}

/** A snapshot of the pipeline counters (WebGPU; the CPU compiles nothing worth counting). */
export function compileStats(): CompileStats {
  return {
    created: pipelineStats.created,
    onDemand: pipelineStats.onDemand,
    awaited: pipelineStats.awaited,
    background: { started: counts.started, created: counts.made },
    library: { ...libraryCounts, joined: libraryJoined },
  };
}
