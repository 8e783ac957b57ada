// Waiting for the GPU in Node without spinning: Dawn's binding polls every event-loop turn, and on a software GPU that turn takes a core the GPU runs on.

/**
 * Node's `webgpu` package (Dawn) learns that GPU work has finished by polling: while a
 * mapAsync or onSubmittedWorkDone is pending it calls setImmediate with a new function every
 * event-loop turn, so the main thread spins at 100% of a core and leaves kilobytes of garbage
 * per millisecond of waiting. On lavapipe the GPU is CPU threads, and the spin takes one of
 * this machine's two cores from them: B3's forward+backward kernel took 3.7 ms with the main
 * thread spinning and 2.0 ms with it asleep (GPU timestamps, same buffers, alternated), and
 * MNIST on WebGPU, which reads its loss every step, went from 102 to 132 iterations a second.
 *
 * `quietly(p)` resolves or rejects as `p` does, and while any quiet wait is pending every
 * event-loop turn sleeps for SLICE_MS (Atomics.wait), so the binding polls a few thousand
 * times a second instead of spinning: the GPU gets its cores back, for at most a slice of
 * latency. Other callbacks of the process wait at most a slice too. Browsers deliver GPU
 * completions as events and never spin: there `p` is returned as it is.
 */
export function quietly<T>(p: Promise<T>): Promise<T> {
  if (sleeper === null) return p;
  p.then(settled, settled);
  quietWaits.pending++;
  if (quietWaits.chains === 0) {
    quietWaits.chains = 1;
    setImmediate(nap);
  }
  return p;
}

/** Quiet waits pending, nap chains running (one serves all), turns slept through so far: for tests. */
export const quietWaits = { pending: 0, chains: 0, naps: 0 };

/** How long each event-loop turn sleeps while a quiet wait is pending. */
const SLICE_MS = 0.2;

/** What sleeps: Node's main thread may block in Atomics.wait; null where GPU waits do not spin. */
const sleeper = typeof setImmediate === 'function' && (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu === undefined
  ? new Int32Array(new SharedArrayBuffer(4)) : null;

/** A quiet wait's promise has settled: one closure for all of them, not one per read. */
function settled(): void {
  quietWaits.pending--;
}

/** One turn's sleep, then the next turn's, until no quiet wait is pending. */
function nap(): void {
  if (quietWaits.pending === 0) {
    quietWaits.chains = 0;
    return;
  }
  quietWaits.naps++;
  Atomics.wait(sleeper!, 0, 0, SLICE_MS);
  setImmediate(nap);
}
