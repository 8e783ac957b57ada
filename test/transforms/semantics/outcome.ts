// What a semantics program observed (values, gradients, error messages, counts), so a run with and without the transform can be compared.

import { L, NDArray, RandomState, Variable, randomNormal, type Device } from 'kusari';

/** One observation: a named list of numbers, or the message an error carried. */
export type Observation = { kind: 'values'; name: string; data: number[] } | { kind: 'error'; name: string; message: string };

/**
 * A program's run records everything it can see into a Recorder, in order; the test
 * compares the two runs' records entry by entry (names, order, error messages exactly;
 * numbers within float32 tolerance). A program's own sanity checks (both branches taken,
 * the loop ran more than once) throw instead: they are about the program, not the transform.
 */
export class Recorder {
  readonly entries: Observation[] = [];

  constructor(readonly device: Device) {}

  /** The values of a Variable, an array, a number or a list of numbers. */
  async value(name: string, x: Variable | NDArray | number | readonly number[] | null): Promise<void> {
    if (x === null) throw new Error(`Recorder.value: ${name} is null (record a gradient with grad(), which says when there is none)`);
    const data = typeof x === 'number' ? [x] : x instanceof Variable ? await read(x.data) : x instanceof NDArray ? await read(x) : x.slice();
    this.entries.push({ kind: 'values', name, data });
  }

  /** A variable's gradient; "none" is an observation too (fusion must reach the same leaves). */
  async grad(name: string, x: Variable): Promise<void> {
    if (x.grad === null) this.entries.push({ kind: 'error', name: `${name}.grad`, message: '(no gradient)' });
    else await this.value(`${name}.grad`, x.grad);
  }

  /** Every parameter of a link, and its gradient, by path. */
  async link(name: string, link: L.Link): Promise<void> {
    for (const [path, p] of link.namedParams()) {
      await this.value(`${name}${path}`, p.data);
      await this.grad(`${name}${path}`, p);
    }
  }

  /**
   * Run `fn`, which must throw: the message is the observation. A call that does not throw
   * is recorded as such (and so differs from a run where it threw).
   */
  async error(name: string, fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.entries.push({ kind: 'error', name, message: e instanceof Error ? `${e.constructor.name}: ${e.message}` : `thrown ${String(e)}` });
      return;
    }
    this.entries.push({ kind: 'error', name, message: '(did not throw)' });
  }
}

async function read(x: NDArray): Promise<number[]> {
  return Array.from(await x.data());
}

/** What every program module exports: `run` builds its model with a fixed seed and records what it sees. */
export type Program = (r: Recorder) => Promise<void>;

/** A seeded float32 normal Variable of `shape` on the recorder's device (the same values on every run). */
export function normal(r: Recorder, shape: readonly number[], seed: number, { scale = 1, mean = 0, requiresGrad = true } = {}): Variable {
  const x = randomNormal(shape, mean, scale, { rng: new RandomState(seed) });
  return new Variable(x.to(r.device), { requiresGrad });
}
