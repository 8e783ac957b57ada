// Worker threads for the WebAssembly matmul: they share its memory and instance code, and take column chunks of C as the main thread does.

/**
 * One chunk of a matmul: column panels [i * per, ...) of the current column block of C. Where
 * A's rows and B's columns both run along k (lda, p[27], not 0: x W^T), one `dot` call over
 * them, read in place. Otherwise those panels of B are packed here from the staged B (so that
 * packing runs on every thread, each panel just before the kernel reads it from cache), then
 * the gemm calls over them, every k block in order (the first one stores, the later ones add),
 * every row block. As source text, so the main thread and each worker run the very same code;
 * a chunk writes only its own panels of packed B and its own columns of C, and starts from a
 * store, so running it twice is harmless.
 */
const CHUNK_SOURCE = `
const a = p[8], b = p[9], c = p[10], m = p[11], k = p[12], kcMax = p[13], MC = p[14], mr = p[15];
const nr = p[16], unroll = p[17], ldc = p[18], aBlock = p[19], bBlock = p[20], total = p[21], per = p[22];
const bSrc = p[23], bsx = p[24], bsk = p[25], nc = p[26], lda = p[27];
const panel0 = i * per, panels = Math.min(per, total - panel0), nIc = Math.ceil(m / MC);
if (lda !== 0) dot(a, lda, bSrc + panel0 * nr * bsx, bsx, c + panel0 * nr * 4, ldc, m + (m & 1), panels * nr, k >> 2, k & 3);
else for (let pc = 0, pi = 0; pc < k; pc += kcMax, pi++) {
  const kc = Math.min(kcMax, k - pc), kcPad = Math.ceil(kc / unroll) * unroll;
  const bp = b + pi * bBlock + panel0 * kcPad * nr * 4;
  packB(bSrc + pc * bsk + panel0 * nr * bsx, bsx, bsk, Math.min(panels * nr, nc - panel0 * nr), kc, kcPad, bp);
  for (let ic = 0, ii = 0; ic < m; ic += MC, ii++) {
    const mcPad = Math.ceil(Math.min(MC, m - ic) / mr) * mr;
    gemm(a + (pi * nIc + ii) * aBlock, bp, c + ic * ldc + panel0 * nr * 4, mcPad, panels * nr, kcPad, ldc, pc > 0 ? 1 : 0);
  }
}`;

/** The layout of the control words (an Int32Array over shared memory). */
const SEQ = 0, NEXT = 1, DONE = 2, READY = 3, NCHUNKS = 4;
/** Where a job's parameters start (CHUNK_SOURCE reads p[8] on). */
export const PARAMS = 8;
const CTRL_WORDS = 32;
/**
 * How long a worker polls for the next job before it sleeps: an MLP step's shared products
 * come up to a few hundred microseconds apart (the loss and a small layer between them), and
 * a worker that slept through such a gap costs a futex wake-up at the next (measured on the
 * 784-100-100-10 step, 2 threads: 1 ms ran 2-5% faster than 0.3 ms). A busy machine shares
 * nothing (coresIdle), so no worker is woken to spin there.
 */
const SPIN_MS = 1;
/**
 * How long the main thread polls for the workers' last chunks before it sleeps: a chunk is a
 * few tens of microseconds of work, about what a futex wake-up of the main thread costs again
 * (on the MLP step: 0 ran 2-3% slower than 0.1 ms, and 0.3 ms 0-2% faster than 0.1 ms).
 */
const DONE_SPIN_MS = 0.3;

export type Gemm = (a: number, b: number, c: number, mc: number, nc: number, kc: number, ldc: number, accumulate: number) => void;
export type Pack = (src: number, sx: number, sk: number, count: number, kc: number, kcPad: number, dst: number) => void;
export type Dot = (a: number, lda: number, b: number, ldb: number, c: number, ldc: number, mc: number, nc: number, groups: number, tail: number) => void;
/** The module's exports a chunk calls. */
export interface Kernels { readonly gemm: Gemm; readonly packB: Pack; readonly dot: Dot }
export type Chunk = (gemm: Gemm, packB: Pack, dot: Dot, p: Int32Array, i: number) => void;

let compiledChunk: Chunk | undefined;
/** CHUNK_SOURCE on this thread, compiled at the first product (not at import: a page whose CSP forbids eval can still load the library). */
export const chunkFn: Chunk = (gemm, packB, dot, p, i) => (compiledChunk ??= new Function('gemm', 'packB', 'dot', 'p', 'i', `"use strict";${CHUNK_SOURCE}`) as Chunk)(gemm, packB, dot, p, i);

/**
 * A worker's whole program (CommonJS, as Node evaluates `eval: true` workers): wait for a job
 * number, then take chunks until none is left, counting each one done.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctrl: sab, chunkSource } = workerData;
const { gemm, packB, dot } = new WebAssembly.Instance(module, { env: { memory } }).exports;
const p = new Int32Array(sab);
const chunk = new Function('gemm', 'packB', 'dot', 'p', 'i', '"use strict";' + chunkSource);
Atomics.add(p, ${READY}, 1);
let seen = 0;
for (;;) {
  // spin a little before sleeping (SPIN_MS): a futex wake-up costs tens of microseconds
  for (const until = performance.now() + ${SPIN_MS}; Atomics.load(p, ${SEQ}) === seen && performance.now() < until;);
  Atomics.wait(p, ${SEQ}, seen);
  seen = Atomics.load(p, ${SEQ});
  const job = seen & 0x7fff;
  for (;;) {
    const v = Atomics.load(p, ${NEXT});
    if ((v >>> 16) !== job || (v & 0xffff) >= p[${NCHUNKS}]) break;
    if (Atomics.compareExchange(p, ${NEXT}, v, v + 1) !== v) continue;
    chunk(gemm, packB, dot, p, v & 0xffff);
    Atomics.add(p, ${DONE}, 1);
    Atomics.notify(p, ${DONE});
  }
}`;

interface WorkerHandle { terminate(): unknown; unref(): void; on(event: 'error', f: (e: unknown) => void): unknown }
interface WorkerThreads { Worker: new (src: string, opts: { eval: true; workerData: unknown }) => WorkerHandle }

/**
 * Threads in all (the main one included) for new pools: KUSARI_THREADS, else the machine's
 * cores up to 4. Workers need Node's worker_threads (reached synchronously through
 * process.getBuiltinModule, Node >= 20.16) and shared memory; elsewhere the main thread does every chunk.
 */
let threadCount = defaultThreads();

/** A core's CPU time since boot, in ms, as os.cpus() reports it. */
interface CoreTimes { times: { user: number; nice: number; sys: number; idle: number; irq: number } }
interface Os { availableParallelism?: () => number; cpus(): CoreTimes[] }

function defaultThreads(): number {
  const env = globalThis.process?.env?.KUSARI_THREADS;
  if (env !== undefined && /^\d+$/.test(env)) return Math.max(1, Number(env));
  const os = builtin<Os>('node:os');
  return Math.min(4, Math.max(1, os?.availableParallelism?.() ?? os?.cpus().length ?? 1));
}

/**
 * Whether workers are worth waking now (OpenMP's OMP_DYNAMIC idea): not when other processes
 * keep the cores busy, i.e. the machine's busy CPU time less this process's own (all its
 * threads), over the last half second (checked at most twice a second). A worker that takes
 * a chunk and is then preempted makes the main thread wait for it: on a saturated machine
 * sharing makes a product slower, not faster (measured on 2 cores at load 15: 100x100x100
 * took 85 us shared against 62 us alone). KUSARI_THREADS or setMatmulThreads: always share.
 *
 * The 1-minute load average, used before, lagged by a minute: a run started within a minute
 * of another (a benchmark after a benchmark) saw that one's load and multiplied on one
 * thread. In bench/mlp-step.ts, whose peers run on the main thread between kusari's steps,
 * the CPU step then measured 0.66-0.76x jax-js jit's time, against 0.59-0.62x when sharing.
 */
let adaptive = globalThis.process?.env?.KUSARI_THREADS === undefined;
const os = builtin<Os>('node:os');
const cores = os === undefined ? 1 : os.availableParallelism?.() ?? os.cpus().length;
/** The last check: when, this process's CPU ms and the machine's busy CPU ms by then. */
let checked: { at: number; ours: number; busy: number } | null = null, idle = true;
function coresIdle(): boolean {
  const proc = globalThis.process;
  if (!adaptive || os === undefined || proc?.cpuUsage === undefined) return true;
  const at = performance.now();
  if (checked === null || at - checked.at > 500) {
    const { user, system } = proc.cpuUsage(), ours = (user + system) / 1000;
    let busy = 0;
    for (const { times: t } of os.cpus()) busy += t.user + t.nice + t.sys + t.irq;
    // the first check only starts the window: share until it has one
    if (checked !== null) idle = sharingPays(othersBusy(busy - checked.busy, ours - checked.ours, at - checked.at), cores);
    checked = { at, ours, busy };
  }
  return idle;
}

/** Cores that other processes kept busy over a window of `wallMs`: the machine's busy CPU ms less this process's. */
export const othersBusy = (machineBusyMs: number, oursMs: number, wallMs: number): number =>
  wallMs > 0 ? Math.max(0, machineBusyMs - oursMs) / wallMs : 0;

/** Room for the main thread and at least one worker, with half a core to spare. */
export const sharingPays = (others: number, cores: number): boolean => others <= cores - 1.5;

/** A Node built-in module, reached synchronously (undefined outside Node or before 20.16). */
export function builtin<T>(name: string): T | undefined {
  const get = (globalThis.process as { getBuiltinModule?: (n: string) => unknown } | undefined)?.getBuiltinModule;
  try {
    return get?.(name) as T | undefined;
  } catch {
    return undefined;
  }
}

/** Whether this engine can share a WebAssembly memory with worker threads at all. */
export const threadsPossible = (): boolean =>
  typeof SharedArrayBuffer === 'function' && typeof Atomics === 'object' && builtin<WorkerThreads>('node:worker_threads') !== undefined;

/** Workers sharing one engine's memory and module. */
export class Pool {
  /** the control words: job number, next chunk, chunks done, workers ready, chunk count, then a job's parameters */
  ctrl: Int32Array;
  private workers: WorkerHandle[] = [];
  private seq = 0;
  private broken = false;
  /** jobs shared with workers, and the chunks of them that workers ran (tests check that threads really worked) */
  readonly stats = { jobs: 0, workerChunks: 0 };

  constructor(private readonly module: WebAssembly.Module, private readonly memory: WebAssembly.Memory) {
    this.ctrl = new Int32Array(CTRL_WORDS);
    this.resize(threadCount);
  }

  /** Workers that have started and can take chunks. */
  get ready(): number { return this.broken ? 0 : Atomics.load(this.ctrl, READY); }

  /** Run with `threads` threads in all (main included); 1 stops the workers. */
  resize(threads: number): void {
    for (const w of this.workers) void w.terminate();
    this.workers = [];
    this.broken = false;
    const wt = builtin<WorkerThreads>('node:worker_threads');
    // a fresh control block: a worker still shutting down cannot take a chunk of a new job
    this.ctrl = new Int32Array(threads > 1 && wt !== undefined && typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(CTRL_WORDS * 4) : new ArrayBuffer(CTRL_WORDS * 4));
    if (threads <= 1 || wt === undefined || !(this.ctrl.buffer instanceof SharedArrayBuffer)) return;
    for (let t = 1; t < threads; t++) {
      try {
        const w = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: { module: this.module, memory: this.memory, ctrl: this.ctrl.buffer, chunkSource: CHUNK_SOURCE } });
        // a worker blocked in Atomics.wait must not keep the process alive
        w.unref();
        w.on('error', () => { this.broken = true; });
        this.workers.push(w);
      } catch {
        break; // no more threads to be had: fewer workers, same results
      }
    }
  }

  /** Whether a job run now would be shared: workers ready, and the cores not all busy (else one chunk of all the panels). */
  get sharing(): boolean { return this.ready > 0 && coresIdle(); }

  /**
   * Wake the sleeping workers ahead of a job that will share (they spin until it comes): a
   * step's first product finds them asleep, and a futex wake-up takes tens of microseconds,
   * which the staging and packing before the job now hide. Not while the cores are busy,
   * where the job will not share.
   */
  wake(): void {
    if (this.sharing) Atomics.notify(this.ctrl, SEQ);
  }

  /**
   * Run chunks 0 .. n - 1 of the job whose parameters are in ctrl[PARAMS...], on the main
   * thread and every ready worker, and return once all are done. Chunks are taken one at a
   * time from a shared counter, so a worker that is slow to wake (a busy machine) simply
   * takes fewer: the main thread alone finishes the job if need be.
   */
  run(n: number, { gemm, packB, dot }: Kernels): void {
    const p = this.ctrl;
    if (this.ready === 0 || n <= 1 || !coresIdle()) {
      for (let i = 0; i < n; i++) chunkFn(gemm, packB, dot, p, i);
      return;
    }
    p[NCHUNKS] = n;
    Atomics.store(p, DONE, 0);
    const job = ++this.seq & 0x7fff;
    Atomics.store(p, NEXT, job << 16);
    Atomics.store(p, SEQ, this.seq);
    Atomics.notify(p, SEQ);
    let mine = 0;
    for (;;) {
      const v = Atomics.load(p, NEXT);
      if (v >>> 16 !== job || (v & 0xffff) >= n) break;
      if (Atomics.compareExchange(p, NEXT, v, v + 1) !== v) continue;
      chunkFn(gemm, packB, dot, p, v & 0xffff);
      Atomics.add(p, DONE, 1);
      mine++;
    }
    this.stats.jobs++;
    this.stats.workerChunks += n - mine;
    // the chunks the workers took: each is a fraction of a millisecond of work
    let waited = 0;
    for (const until = performance.now() + DONE_SPIN_MS; Atomics.load(p, DONE) < n && performance.now() < until;);
    for (let d = Atomics.load(p, DONE); d < n; d = Atomics.load(p, DONE)) {
      if (Atomics.wait(p, DONE, d, 100) === 'timed-out' && (waited += 100) >= 5000) {
        // a worker died or stalls for seconds: stop using threads, redo the job here (chunks are idempotent)
        this.resize(1);
        this.broken = true;
        for (let i = 0; i < n; i++) chunkFn(gemm, packB, dot, p, i);
        return;
      }
    }
  }
}

/**
 * Threads for matmul pools created from now on (and resized ones): at least 1, the main
 * thread. `adaptive`: still skip the workers while the machine's cores are all busy.
 */
export function setMatmulThreads(n: number, opts: { adaptive?: boolean } = {}): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setMatmulThreads: expected an integer >= 1, got ${n}`);
  threadCount = n;
  adaptive = opts.adaptive ?? false;
}

export const matmulThreads = (): number => threadCount;
