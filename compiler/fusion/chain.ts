// A fused chain: K outputs over N inputs, its one forward and one backward kernel, and whether backward recomputes or stores.

import { Expr, constant, input, topoSort } from '../expr.js';
import { vjp } from '../grad.js';
import { renderPolymorphic } from '../wgsl.js';

/**
 * Per-element cost of each primitive, in units of a simple float op. Transcendentals are
 * a polynomial and a range reduction (lavapipe's and most GPUs' exp/log/tanh are ~8-16
 * instructions); pow_real and div_real carry their IEEE special-case tests.
 */
const COST: Readonly<Record<string, number>> = { exp: 8, log: 8, tanh: 10, sigmoid: 12, pow: 16, sqrt: 4, div: 4 };
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

// ---- store the local derivative ---------------------------------------------------------------

/**
 * The other recompute-or-store decision, made per call by the runtime node (one place for the
 * rule): for a ONE-output chain whose backward will run, the forward may also write the local
 * derivative d_i = dy/dx_i of each input i that wants a gradient (an elementwise chain's
 * Jacobian is diagonal per input), beside y, sharing its intermediates (B3's two tanh are
 * computed once, not again in backward). The first-order backward is then gx_i = gy * d_i:
 * one trivial dispatch that reads neither the inputs nor recomputes anything. Double backward
 * (a recorded backward) keeps the symbolic recompute path, whose derivative is an expression.
 *
 * The rule: one output; 1..MAX_DERIVATIVES inputs in `wrt`, none of them broadcast (a broadcast
 * input's gradient is a reduction, left to the recompute kernel's fused sum); the forward's
 * buffers (inputs, y, the d_i) within the device's per-stage limit; and the arithmetic it saves
 * (the recompute backward's cost, less the extra the forward does for the d_i and the backward's
 * products) more than the memory it costs: STORE_FROM per stored array (a write, a read, kept
 * alive in between) less STORE_FROM / 2 per input the recompute backward would have read.
 */
export interface DerivativeDecision {
  readonly decision: 'store-derivative' | 'recompute';
  /** Why, in words (for tests and the kernel's metadata). */
  readonly why: string;
  /** Per input of wrt: d(root)/d(input i) over the chain's inputs and scalars (empty when recomputing). */
  readonly derivatives: readonly Expr[];
  /** Per-element arithmetic the store saves, and the memory traffic it costs, in COST units. */
  readonly saving: number;
  readonly traffic: number;
}

/** Inputs whose derivatives one forward stores at most: each is one more array written and kept. */
export const MAX_DERIVATIVES = 2;

export interface DerivativeOptions {
  /** Per input: whether it is broadcast to the output's shape (default none). */
  broadcast?: readonly boolean[];
  /** The device's storage buffers per stage (default 8). */
  maxStorageBuffers?: number;
  /** Cost of one stored array (default STORE_FROM). */
  storeFrom?: number;
}

/** Decide whether the forward of `roots` (over nInputs inputs) stores the local derivatives of `wrt`. */
export function planLocalDerivative(roots: readonly Expr[], nInputs: number, wrt: readonly number[], opts: DerivativeOptions = {}): DerivativeDecision {
  const no = (why: string, saving = 0, traffic = 0): DerivativeDecision => ({ decision: 'recompute', why, derivatives: [], saving, traffic });
  if (roots.length !== 1) return no(`${roots.length} outputs: the local Jacobian is not one array per input`);
  if (wrt.length === 0 || wrt.length > MAX_DERIVATIVES) return no(`${wrt.length} inputs want a gradient (stores at most ${MAX_DERIVATIVES})`);
  const b = wrt.find((i) => opts.broadcast?.[i] === true);
  if (b !== undefined) return no(`input ${b} is broadcast: its gradient is a reduction`);
  if (nInputs + 1 + wrt.length > (opts.maxStorageBuffers ?? 8)) return no('the forward would bind more storage buffers than the device allows');
  const root = roots[0];
  const derivatives = wrt.map((i) => vjp(root, [i], constant(1))[0]);
  const gy = input(nInputs);
  const recompute = kernelCost(wrt.map((i) => vjp(root, [i], gy)[0]));
  const extra = kernelCost([root, ...derivatives]) - kernelCost([root]) + wrt.length; // + the backward's gy * d_i
  const reads = new Set(topoSort(wrt.map((i) => vjp(root, [i], gy)[0])).filter((e) => e.op === 'input' && e.value < nInputs).map((e) => e.value)).size;
  const unit = opts.storeFrom ?? STORE_FROM;
  const saving = recompute - extra;
  const traffic = unit * wrt.length - (unit / 2) * reads;
  if (saving <= traffic) return no(`saves ${saving} per element for ${traffic} of memory traffic`, saving, traffic);
  return { decision: 'store-derivative', why: `saves ${saving} per element for ${traffic} of memory traffic`, derivatives, saving, traffic };
}
