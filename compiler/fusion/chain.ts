// A fused chain: K outputs over N inputs, its one forward and one backward kernel, and whether backward recomputes or stores.

import { Expr, constant, input, topoSort } from '../expr.js';
import { vjp } from '../grad.js';
import { renderPolymorphic } from '../wgsl.js';

/**
 * Per-element cost of each primitive, in units of a simple float op. Transcendentals are
 * a polynomial and a range reduction (lavapipe's and most GPUs' exp/log/tanh are ~8-16
 * instructions); pow_real and div_real carry their IEEE special-case tests.
 */
const COST: Readonly<Record<string, number>> = { exp: 8, log: 8, tanh: 10, pow: 16, sqrt: 4, div: 4 };
const costOf = (e: Expr) => (e.args.length === 0 ? 0 : (COST[e.op] ?? 1));

/**
 * What storing one intermediate costs per element, in the same units: a 4-byte store in
 * the forward, a 4-byte load in the backward and the array kept alive in between. An
 * elementwise kernel is memory-bound, so this is many ALU ops' worth: store only when the
 * backward would otherwise recompute more than this.
 */
export const STORE_FROM = 24;

/** The recompute-or-store decision for one chain, kept in its kernels' metadata (and tested). */
export interface StoreDecision {
  readonly decision: 'recompute' | 'store';
  /** Forward intermediates the forward writes as extra outputs and the backward reads back. */
  readonly stored: readonly Expr[];
  /** Per-element cost of the backward kernel as planned, and had it recomputed everything. */
  readonly backwardCost: number;
  readonly recomputeCost: number;
}

/** One kernel of a chain: its roots (over the operands `reads` lists) and its WGSL name. */
export interface ChainKernel {
  readonly roots: readonly Expr[];
  /** What operand k is, in order: 'x<i>' an input, 'gy<j>' an output's gradient, 'saved<s>' a stored intermediate. */
  readonly reads: readonly string[];
  /** `fused_<ops>_<hash>`: the hash (64-bit) of the flat WGSL kernel's source, so equal chains get equal names wherever they come from. */
  readonly name: string;
}

export interface FusedChain {
  /** Forward: the chain's K outputs, then the stored intermediates (decision.stored). */
  readonly forward: ChainKernel;
  /** Backward: the gradient of every input in `wrt`, in order, in one pass. */
  readonly backward: ChainKernel;
  readonly decision: StoreDecision;
  readonly nInputs: number;
  readonly wrt: readonly number[];
}

export interface ChainOptions {
  /** Inputs whose gradients the backward computes (default all). */
  wrt?: readonly number[];
  /** Which outputs have a gradient (default all): an absent one takes no operand. */
  gys?: readonly boolean[];
  /** Store no more than this many intermediates (default 2; storage buffers are few). */
  maxStored?: number;
  /** The device's storage buffers per stage (default 8): stores never push a kernel past it. */
  maxStorageBuffers?: number;
  /** The saving a store must bring (default STORE_FROM); a device that measures otherwise may say so. */
  storeFrom?: number;
}

/** Total per-element cost of the kernel computing `roots`: each distinct node once. */
export function kernelCost(roots: readonly Expr[]): number {
  let c = 0;
  for (const e of topoSort(roots)) c += costOf(e);
  return c;
}

/** `roots` with each node in `map` replaced (structurally, no simplification). */
export function replaceNodes(roots: readonly Expr[], map: ReadonlyMap<Expr, Expr>): Expr[] {
  const memo = new Map<Expr, Expr>();
  for (const e of topoSort(roots)) {
    const r = map.get(e) ?? (e.args.length === 0 ? e : Expr.make(e.op, e.args.map((a) => memo.get(a)!), e.value));
    memo.set(e, r);
  }
  return roots.map((r) => memo.get(r)!);
}

/**
 * Plan a chain: the forward writes all K `outputs`; the backward takes [...inputs, ...the
 * present gys, ...stored] and writes, for each i in wrt, sum_j vjp(output_j, [i], gy_j).
 * Intermediates are recomputed from the inputs unless storing one saves the backward more
 * than STORE_FROM per element (greedy, one at a time, the biggest saving first).
 */
export function planChain(outputs: readonly Expr[], nInputs: number, opts: ChainOptions = {}): FusedChain {
  const wrt = opts.wrt ?? Array.from({ length: nInputs }, (_, i) => i);
  const present = opts.gys ?? outputs.map(() => true);
  if (present.length !== outputs.length) throw new Error(`planChain: gys has ${present.length} entries for ${outputs.length} outputs`);
  for (const e of topoSort(outputs)) {
    if (e.op === 'input' && e.value >= nInputs) throw new Error(`planChain: the chain reads input(${e.value}) but has ${nInputs} inputs`);
  }
  const gyIndex: number[] = [];
  let g = 0;
  present.forEach((p, j) => (gyIndex[j] = p ? nInputs + g++ : -1));
  const full = wrt.map((i) => {
    let sum: Expr = constant(0);
    outputs.forEach((y, j) => {
      if (gyIndex[j] >= 0) sum = sum.add(vjp(y, [i], input(gyIndex[j]))[0]);
    });
    return sum;
  });

  // candidates: interior forward nodes the backward recomputes
  const forwardNodes = new Set(topoSort(outputs));
  const recomputeCost = kernelCost(full);
  // each store is one more buffer for both kernels: the backward reads it, the forward writes it
  const limit = opts.maxStorageBuffers ?? 8;
  const maxStored = Math.max(0, Math.min(opts.maxStored ?? 2, limit - (nInputs + g + wrt.length), limit - (nInputs + outputs.length)));
  const stored: Expr[] = [];
  let roots = full, cost = recomputeCost;
  while (stored.length < maxStored) {
    const candidates = topoSort(roots).filter((e) => e.args.length > 0 && forwardNodes.has(e) && e.op !== 'input');
    let best: { e: Expr; roots: Expr[]; cost: number } | null = null;
    // the 32 latest in evaluation order: the largest subtrees, and a bound on the work here
    for (const e of candidates.slice(-32)) {
      const r = replaceNodes(roots, new Map([[e, input(nInputs + g + stored.length)]]));
      const c = kernelCost(r);
      if (best === null || c < best.cost) best = { e, roots: r, cost: c };
    }
    if (best === null || cost - best.cost < (opts.storeFrom ?? STORE_FROM) || best.cost >= cost) break;
    stored.push(best.e);
    roots = best.roots;
    cost = best.cost;
  }
  const decision: StoreDecision = { decision: stored.length > 0 ? 'store' : 'recompute', stored, backwardCost: cost, recomputeCost };
  const fwdRoots = [...outputs, ...stored];
  const reads = [
    ...Array.from({ length: nInputs }, (_, i) => `x${i}`),
    ...present.flatMap((p, j) => (p ? [`gy${j}`] : [])),
    ...stored.map((_, s) => `saved${s}`),
  ];
  return {
    forward: { roots: fwdRoots, reads: reads.slice(0, nInputs), name: chainName(fwdRoots, nInputs) },
    backward: { roots, reads, name: chainName(roots, reads.length) },
    decision,
    nInputs,
    wrt,
  };
}

/**
 * `fused_<ops>_<hash>` of a kernel over `nInputs` float32 operands: the name of its flat WGSL
 * kernel, whose hash covers the rendered source. Every front end (fuse(fn), a declared
 * kernel, the build-time transform) that builds the same expressions gets the same name.
 */
export function chainName(roots: readonly Expr[], nInputs: number): string {
  return renderPolymorphic(roots, nInputs, 'flat').name;
}
