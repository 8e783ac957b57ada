// Random elementwise chains for the fusion equivalence tests: the generator, and fused against unfused on one device.

import fc from 'fast-check';
import type { Device } from '../../runtime/array/ndarray.js';
import { NDArray } from '../../runtime/array/ndarray.js';
import { fuse } from '../../runtime/fusion/fuse.js';
import { usingConfig } from '../../runtime/graph/config.js';
import { Variable } from '../../runtime/graph/variable.js';
import '../../runtime/graph/backward.js';
import '../../runtime/ops/index.js';
import { ELEMENTWISE_OPS, Elementwise, type ElementwiseOp } from '../../runtime/ops/elementwise.js';
import { add, mul } from '../../runtime/ops/arithmetic.js';
import { sum } from '../../runtime/ops/shape.js';
import { countKernels, on, sample, type DeviceSuite } from '../helpers.js';

/** What one device's chains came to: dispatch counts checked and comparisons made. */
export interface Counts { fwd: number; bwd: number; passthrough: number; stored: number; doubles: number; doubleEvery: number }

/**
 * Check chains lo..hi-1 of the `runs` that fast-check draws from `seed` (its small-first bias
 * as in one run of all of them: the others are drawn and skipped, which costs nothing), so a
 * long run can be cut into tests that each finish well inside ava's timeout. Resolves to how
 * many were checked; the first failing chain throws with its JSON.
 */
export async function checkChains(device: Device, seed: number, runs: number, lo: number, hi: number, counts: Counts): Promise<number> {
  let n = 0, checked = 0;
  await fc.assert(fc.asyncProperty(chainArb, async (c) => {
    const i = n++;
    if (i < lo || i >= hi) return;
    const bad = await checkChain(c, device, i, counts);
    checked++;
    if (bad !== null) throw new Error(`chain ${i}: ${bad}\n  chain ${JSON.stringify(c)}`);
  }), { seed, numRuns: runs, endOnFailure: true, includeErrorInReport: true });
  return checked;
}

/** A summary line of what the chains checked and what the comparisons let pass. */
export function report(device: Device, n: number, counts: Counts, ms: number): string {
  const s = STATS[device];
  return `${device}: ${n} chains so far, forward 1 dispatch in ${counts.fwd} (one output shape), backward 1 dispatch in ${counts.bwd} (unbroadcast), pass-through backward ${counts.passthrough}, dy/dx stored by the forward in ${counts.stored} (its gy * d backward 1 dispatch too), double backward compared in ${counts.doubles} (${s.doubleSkipped} of them skipped: non-finite forward), elements non-finite unfused, not compared ${s.nonFinite}, null-for-zero gradients ${s.droppedZero}, NaN-vs-Inf elements ${s.nonFiniteKind}, this test ${ms} ms`;
}

/** An argument: a value of the chain (input or earlier op) or a literal number. */
export type Arg = { value: number } | { literal: number };
export interface Step { op: string; args: Arg[] }
export interface Chain {
  shape: number[];
  /** per input: which axes are 1 (broadcast), and how many leading axes are dropped */
  inputs: { ones: boolean[]; drop: number }[];
  /** the last input is the first one again (a repeated argument) */
  repeat: boolean;
  steps: Step[];
  /** intermediates returned beside the last value */
  extra: number[];
}

const OPS = [...ELEMENTWISE_OPS.values()];
const NAMES = OPS.map((o) => o.def.name);

/** Literal values an op accepts for a number-only argument. */
function literalFor(op: ElementwiseOp, arg: string, draw: number): number {
  if (op.def.name === 'softplus') return 0.5 + Math.abs(draw); // finite and non-zero
  if (op.def.name === 'clip') return arg === 'xMin' ? -0.5 - Math.abs(draw) / 2 : 0.5 + Math.abs(draw) / 2;
  return draw;
}

export const chainArb: fc.Arbitrary<Chain> = fc.record({
  shape0: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 3 }),
  // one chain in four is wide (over 1024 elements: WebGPU's vec4 kernel); the rest stay
  // small, and their scalar kernels compile ~3x faster on lavapipe
  wide: fc.integer({ min: 0, max: 3 }),
  nInputs: fc.integer({ min: 1, max: 3 }),
  broadcast: fc.boolean(),
  repeat: fc.boolean(),
  seeds: fc.array(fc.tuple(fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.integer({ min: 0, max: 3 })), { minLength: 3, maxLength: 3 }),
  steps: fc.array(fc.record({
    op: fc.constantFrom(...NAMES),
    picks: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 9 }), fc.double({ min: -2, max: 2, noNaN: true })), { minLength: 3, maxLength: 3 }),
  }), { minLength: 1, maxLength: 12 }),
  extra: fc.array(fc.nat(), { maxLength: 3 }),
}).map(({ shape0, wide, nInputs, broadcast, repeat, seeds, steps, extra }) => {
  // odd, so that the vec4 kernel also ends on a partial vec4
  const shape = wide === 0 ? [...shape0.slice(0, 1), 1029 + 2 * (steps.length % 4)] : shape0;
  const inputs = Array.from({ length: nInputs }, (_, i) => broadcast && i > 0
    ? { ones: seeds[i][0].slice(0, shape.length), drop: Math.min(seeds[i][1], shape.length) }
    : { ones: shape.map(() => false), drop: 0 });
  let values = nInputs + (repeat ? 1 : 0);
  const out: Step[] = steps.map(({ op, picks }) => {
    const row = ELEMENTWISE_OPS.get(op)!;
    let args: Arg[] = row.def.args.map((a, i) => {
      const [which, coin, lit] = picks[i];
      const kind = row.def.kinds?.[a] ?? 'either';
      if (kind === 'number' || (kind === 'either' && coin === 0)) return { literal: literalFor(row, a, Math.round(lit * 8) / 8) };
      // recent values more often, so chains are deep rather than wide
      return { value: coin < 5 ? values - 1 - (which % Math.min(values, 2)) : which % values };
    });
    if (args.every((a) => 'literal' in a)) args = [{ value: values - 1 }, ...args.slice(1)];
    values++;
    return { op, args };
  });
  const nOps = out.length, first = nInputs + (repeat ? 1 : 0);
  return { shape, inputs, repeat, steps: out, extra: [...new Set(extra.map((e) => first + (e % nOps)))].filter((v) => v !== first + nOps - 1) };
});

/** The chain as a function of its inputs: returns the last value and the extra outputs. */
function program(c: Chain): (...xs: Variable[]) => Variable[] {
  return (...xs: Variable[]) => {
    const vals: Variable[] = [...xs];
    for (const s of c.steps) {
      const op = ELEMENTWISE_OPS.get(s.op)! as unknown as (...a: (Variable | number)[]) => Variable;
      vals.push(op(...s.args.map((a) => ('literal' in a ? a.literal : vals[a.value]))));
    }
    return [vals[vals.length - 1], ...c.extra.map((e) => vals[e])];
  };
}

function inputsFor(c: Chain, device: Device, seed: number): Variable[] {
  const xs = c.inputs.map((inp, i) => {
    const shape = c.shape.map((n, d) => (inp.ones[d] ? 1 : n)).slice(inp.drop);
    return on(device, sample(shape, seed * 7 + i, (r) => Math.round((r.uniform() * 3 - 1.5) * 64) / 64));
  });
  return c.repeat ? [...xs, xs[0]] : xs;
}

const close = (a: number, b: number, tol: number) =>
  (Number.isNaN(a) && Number.isNaN(b)) || a === b || Math.abs(a - b) <= tol * (1 + Math.abs(a) + Math.abs(b));

/**
 * WGSL leaves Inf and NaN arithmetic to the implementation (a shader compiler may fold x - x
 * to 0 before a log sees it), so on WebGPU an element the unfused run made non-finite is not
 * compared, only counted; but a fused run that is non-finite where the unfused one is finite
 * fails. The CPU is held to IEEE exactly.
 */
/** What the comparisons let pass, per device (the two devices' tests run concurrently). */
export const STATS = { cpu: { nonFinite: 0, droppedZero: 0, nonFiniteKind: 0, doubleSkipped: 0 }, webgpu: { nonFinite: 0, droppedZero: 0, nonFiniteKind: 0, doubleSkipped: 0 } };
function same(a: NDArray | null, b: NDArray | null, tol: number, ieee: boolean, stats: typeof STATS.cpu): string | null {
  // an input whose every use simplifies away (where(c, x, x) is x) is not an input of the fused
  // node, so its gradient is null where unfused where() gave it zeros: the same values
  // (and the other way: one backward node computes every input's gradient, so in double
  // backward an input that only another input's gradient reads gets zeros, unfused null)
  const zeros = (z: NDArray | null) => z !== null && z.toFlat().every((v) => v === 0);
  if ((a === null && zeros(b)) || (b === null && zeros(a))) { stats.droppedZero++; return null; }
  if (a === null || b === null) return a === b ? null : `one gradient is missing (${a === null ? 'fused' : 'unfused'})`;
  if (a.shape.join() !== b.shape.join()) return `shapes ${a.shape.join('x')} vs ${b.shape.join('x')}`;
  const x = a.toFlat(), y = b.toFlat();
  for (let i = 0; i < x.length; i++) {
    if (!ieee && !Number.isFinite(y[i])) { stats.nonFinite++; continue; }
    if (!ieee && !Number.isFinite(x[i])) return `element ${i}: fused ${x[i]} where unfused is finite (${y[i]})`;
    // past overflow, NaN or Inf depends on association (the fused vjp sums a node's adjoints
    // before scaling, (a + b) c where unfused backward computes a c + b c): both must overflow
    if (!Number.isFinite(x[i]) && !Number.isFinite(y[i]) && !Object.is(x[i], y[i])) { stats.nonFiniteKind++; continue; }
    if (!close(x[i], y[i], tol)) return `element ${i}: fused ${x[i]} vs unfused ${y[i]}`;
  }
  return null;
}

/** Forward, gradients and dispatch counts of one chain, fused against unfused. */
export async function checkChain(c: Chain, device: Device, seed: number, counts: Counts): Promise<string | null> {
  const fn = program(c);
  const ref = inputsFor(c, device, seed), got = inputsFor(c, device, seed);
  const ys0 = fn(...ref);
  let ys1: Variable[] = [];
  const fwd = countKernels(() => { ys1 = fuse(fn)(...got); });
  const w = ys0.map((y, j) => on(device, sample(y.shape, seed + 100 + j, (r) => r.uniform() * 2 - 1)).data);
  for (const ys of [ys0, ys1]) ys.map((y, j) => sum(mul(y, w[j]))).reduce((a, b) => add(a, b)).backward();
  const tol = 2e-3;
  for (let j = 0; j < ys0.length; j++) {
    const bad = same(await host(ys1[j].data), await host(ys0[j].data), tol, device === 'cpu', STATS[device]);
    if (bad !== null) return `output ${j}: ${bad}`;
  }
  const distinct = c.repeat ? got.slice(0, -1) : got;
  for (let i = 0; i < distinct.length; i++) {
    const bad = same(await host(distinct[i].grad), await host((c.repeat ? ref.slice(0, -1) : ref)[i].grad), tol, device === 'cpu', STATS[device]);
    if (bad !== null) return `gradient of input ${i}: ${bad}`;
  }
  if (counts.doubleEvery > 0 && seed % counts.doubleEvery === 0) {
    const bad = await checkDouble(c, device, seed, tol);
    if (bad !== null) return `double backward: ${bad}`;
    counts.doubles++;
  }
  // dispatches: every output is one fused node's, computed in one launch
  // outputs of different shapes (an intermediate of a broadcast input) are one node per shape
  const shapes = new Set(ys1.map((y) => y.shape.join()));
  if (fwd !== shapes.size) return `forward took ${fwd} dispatches for ${shapes.size} output shape(s)`;
  if (shapes.size > 1) return null;
  const node = ys1[0].creator;
  if (!(node instanceof Elementwise) || ys1.some((y) => y.creator !== node)) return 'the outputs are not one fused node';
  counts.fwd++;
  const broadcast = distinct.some((x) => x.shape.join() !== ys1[0].shape.join());
  if (!broadcast) {
    const gys = ys1.map((y, j) => new Variable(w[j], { requiresGrad: false }));
    const targets = node.inputs.map((_, i) => i);
    // as a recorded (double) backward runs it: the symbolic kernel, recomputing
    const bwd = countKernels(() => node.backward(targets, gys));
    const trivial = bwd === 0 && targets.length > 0;
    if (trivial) counts.passthrough++; // every gradient is some gy unchanged (add, sub of inputs): no kernel
    else if (bwd !== 1) return `backward took ${bwd} dispatches`;
    else counts.bwd++;
    if (node.decision?.decision === 'store-derivative') {
      // as backward() runs it (first order): gy * the stored dy/dx
      const first = countKernels(() => usingConfig({ enableBackprop: false }, () => node.backward(targets, gys)));
      if (first !== 1) return `backward from the stored derivative took ${first} dispatches`;
      counts.stored++;
    }
  }
  return null;
}

/** Second order: the gradient of sum(gx0^2) (gx0 taken with enableDoubleBackprop), fused against unfused. */
async function checkDouble(c: Chain, device: Device, seed: number, tol: number): Promise<string | null> {
  const fn = program(c);
  const outs: Variable[] = [];
  const run = (f: (...xs: Variable[]) => Variable[]) => {
    const xs = inputsFor(c, device, seed);
    const ys = f(...xs);
    outs.push(...ys);
    const w = ys.map((y, j) => on(device, sample(y.shape, seed + 100 + j, (r) => r.uniform() * 2 - 1)).data);
    ys.map((y, j) => sum(mul(y, w[j]))).reduce((a, b) => add(a, b)).backward({ enableDoubleBackprop: true });
    const g = xs[0].gradVar;
    for (const x of xs) x.cleargrad();
    if (g !== null) sum(mul(g, g)).backward();
    return c.repeat ? xs.slice(0, -1) : xs;
  };
  const want = run(fn), got = run(fuse(fn));
  // outside a chain's domain (a NaN forward, from log or pow of a negative) second-order
  // NaN and 0 depend on where a 0 * NaN lands: compared only where the forward is finite
  for (const y of outs) {
    if (!(await host(y.data))!.toFlat().every(Number.isFinite)) { STATS[device].doubleSkipped++; return null; }
  }
  for (let i = 0; i < want.length; i++) {
    const bad = same(await host(got[i].grad), await host(want[i].grad), tol, device === 'cpu', STATS[device]);
    if (bad !== null) return `input ${i}: ${bad}`;
  }
  return null;
}

const host = async (x: NDArray | null): Promise<NDArray | null> => (x === null ? null : x.device === 'cpu' ? x : x.toCpu());

/** Chains per test: each test then reports within ava's timeout even on a busy machine. */
const CHUNK = 25;

/**
 * Declare the checks of chains lo..hi-1 (of `runs` drawn from `seed`) on `device` as serial
 * tests of CHUNK chains each, every one asserting that all its chains were checked.
 */
export function declareChains(suite: DeviceSuite, device: Device, seed: number, runs: number, lo: number, hi: number): void {
  const counts: Counts = { fwd: 0, bwd: 0, passthrough: 0, stored: 0, doubles: 0, doubleEvery: device === 'cpu' ? 5 : 10 };
  let total = 0;
  for (let a = lo; a < Math.min(hi, runs); a += CHUNK) {
    const b = Math.min(a + CHUNK, hi, runs);
    suite.on(device, `fuse: random chains ${a}-${b - 1} of ${runs} equal the unfused run, forward and every gradient, 1 dispatch each way`, async (t) => {
      const started = Date.now();
      const n = await checkChains(device, seed, runs, a, b, counts);
      total += n;
      t.log(report(device, total, counts, Date.now() - started));
      t.is(n, b - a);
    });
  }
}

/** fast-check's seed for the chains: the same chains on both devices. */
export const SEED = 8;

/**
 * Chains per device. Lavapipe compiles each new chain's pipelines on the CPU (~0.3 s of CPU a
 * chain, most of it LLVM), which is why WebGPU's are split over two files that ava runs in
 * parallel; FUSION_RUNS_CPU / FUSION_RUNS_WEBGPU change the counts.
 */
export const RUNS: Record<Device, number> = { cpu: Number(process.env.FUSION_RUNS_CPU ?? 500), webgpu: Number(process.env.FUSION_RUNS_WEBGPU ?? 500) };
