// A chain's kernel: its IR built exactly as fuse(fn)'s trace builds it, the per-op steps apply() re-checks, and its outputs.

import { Node } from 'ts-morph';
import { input, scalar, substitute, topoSort, type Expr } from '../compiler/expr.js';
import { chainName } from '../compiler/fusion/chain.js';
import { exprsToJSON, type SerializedExprs } from '../compiler/serialize.js';
import { backwardRoots } from '../runtime/ops/elementwise.js';
import { referencesOf, type Chain, type DeclInfo, type OpCall, type Operand, type Tree } from './analyze.js';
import type { ArgSource } from './resolve.js';

/**
 * A kernel reads its inputs and writes its outputs through storage buffers; the backward
 * reads the inputs and every output's gradient and writes one gradient: WebGPU guarantees 8
 * per stage, so a kernel over more than this many inputs plus outputs is not made.
 */
export const MAX_BINDINGS = 7;

/** What an argument of the kernel's apply() call is: a source expression, or a literal default. */
export type ApplyArg = { readonly node: Node } | { readonly literal: number };

/** One output of the kernel: the last tree's value in place, or a declared variable. */
export interface PlannedOutput {
  readonly decl: DeclInfo | null;
  readonly tree: Tree;
  /** where the value is first used after the chain (orders outputs as fuse(fn) collects them) */
  readonly firstUse: number;
}

export interface KernelPlan {
  readonly chain: Chain;
  readonly name: string;
  readonly roots: readonly Expr[];
  readonly ir: SerializedExprs;
  readonly nInputs: number;
  /** 'op(arg=ref, ...)', ref i<k> an input, s<m> a scalar, t<j> step j's value: what apply() checks per op */
  readonly steps: readonly string[];
  /** which step each output is */
  readonly outputSteps: readonly number[];
  readonly inputs: readonly ApplyArg[];
  readonly scalars: readonly ApplyArg[];
  readonly outputs: readonly PlannedOutput[];
  readonly ops: readonly string[];
  /** user kernels' constructor strings, which steps '@k(...)' refer to */
  readonly kernels: readonly (readonly string[])[];
  readonly savedForward: number;
  readonly savedBackward: number;
  /** array-module functions: NDArrays in, NDArrays out (applyArrays), no graph and no backward */
  readonly module: boolean;
}

/** A leaf's identity, as fuse(fn) sees arrays: the same variable (or this.property) is one input. */
function leafKey(n: Node): string | null {
  const u = Node.isParenthesizedExpression(n) || Node.isNonNullExpression(n) ? n.getExpression() : n;
  if (Node.isIdentifier(u)) {
    const s = u.getSymbol();
    return s === undefined ? null : `id:${symbolId(s)}`;
  }
  if (Node.isThisExpression(u)) return 'this';
  if (Node.isPropertyAccessExpression(u) && !u.hasQuestionDotToken()) {
    // a plain property (not a getter, which may return a new array on each read)
    const s = u.getNameNode().getSymbol();
    const decl = s?.getDeclarations()[0];
    if (decl === undefined || !(Node.isPropertyDeclaration(decl) || Node.isPropertySignature(decl) || Node.isParameterDeclaration(decl))) return null;
    const inner = leafKey(u.getExpression());
    return inner === null ? null : `${inner}.${u.getName()}`;
  }
  return null;
}

const ids = new WeakMap<object, number>();
let nextId = 0;
function symbolId(s: object): number {
  let k = ids.get(s);
  if (k === undefined) ids.set(s, (k = nextId++));
  return k;
}

/**
 * Build the kernel of a chain by replaying, at build time, what fuse(fn)'s trace records at
 * run time: ops in evaluation order (receiver, then arguments left to right, then the op),
 * each op's row expression with its array arguments' expressions and fresh scalars
 * substituted, leaves numbered as first read; then the outputs' expressions with the
 * leaves and scalars they use renumbered from 0. Same chain, same IR, same kernel name.
 */
export function planChain(chain: Chain, outputs: readonly PlannedOutput[]): KernelPlan {
  const leaves: { key: string | null; node: Node }[] = [];
  const scalars: ApplyArg[] = [];
  const kernels: (readonly string[])[] = [];
  const steps: { op: string; name: string; argNames: readonly string[]; refs: { kind: 'i' | 's' | 't'; index: number }[]; expr: Expr; own: Expr; nArrays: number }[] = [];
  const pending = new Map<object, { expr: Expr; step: number }>(); // declared intermediates, by symbol
  const values = new Map<OpCall, { expr: Expr; step: number }>();

  const leafIndex = (node: Node): number => {
    const key = leafKey(node);
    if (key !== null) {
      const i = leaves.findIndex((l) => l.key === key);
      if (i >= 0) return i;
    }
    leaves.push({ key, node });
    return leaves.length - 1;
  };

  type Value = { kind: 'pending'; expr: Expr; step: number } | { kind: 'leaf'; node: Node };
  const evaluate = (o: Operand): Value => {
    if (o.kind === 'op') {
      const v = record(o.op);
      return { kind: 'pending', ...v };
    }
    const u = Node.isParenthesizedExpression(o.node) ? o.node.getExpression() : o.node;
    if (Node.isIdentifier(u)) {
      const s = u.getSymbol();
      const p = s === undefined ? undefined : pending.get(s);
      if (p !== undefined) return { kind: 'pending', ...p };
    }
    return { kind: 'leaf', node: o.node };
  };

  const record = (op: OpCall): { expr: Expr; step: number } => {
    const recv = op.receiver === null ? null : evaluate(op.receiver);
    const args = op.args.map(evaluate);
    const valueOf = (src: ArgSource): Value | number => {
      if (src.from === 'receiver') return recv!;
      if (src.from === 'arg') return args[src.index];
      return src.value;
    };
    const arrayRefs: { kind: 'i' | 't'; index: number }[] = [];
    const arrayExprs = op.use.arrays.map((src) => {
      const v = valueOf(src) as Value;
      if (v.kind === 'pending') {
        arrayRefs.push({ kind: 't', index: v.step });
        return v.expr;
      }
      const k = leafIndex(v.node);
      arrayRefs.push({ kind: 'i', index: k });
      return input(k);
    });
    const base = scalars.length;
    const scalarRefs = op.use.scalars.map((src, j) => {
      if (src.from === 'const') scalars.push({ literal: src.value });
      else {
        const v = valueOf(src) as Value;
        scalars.push({ node: (v as { node: Node }).node });
      }
      return { kind: 's' as const, index: base + j };
    });
    const expr = substitute([op.use.expr], arrayExprs, op.use.scalars.map((_, j) => scalar(base + j)))[0];
    // the row's arguments in its own order: arrays and numbers interleaved as its names say
    let a = 0, m = 0;
    const refs = op.use.def.args.map((name) => (op.use.names[a] === name ? arrayRefs[a++] : scalarRefs[m++]));
    let opText = op.use.module === true ? `xp.${op.use.def.name}` : op.use.def.name;
    if (op.use.kernel !== undefined) {
      let k = kernels.findIndex((x) => JSON.stringify(x) === JSON.stringify(op.use.kernel));
      if (k < 0) k = kernels.push(op.use.kernel) - 1;
      opText = `@${k}`;
    }
    steps.push({ op: opText, name: op.use.def.name, argNames: op.use.def.args, refs, expr, own: op.use.expr, nArrays: op.use.arrays.length });
    const v = { expr, step: steps.length - 1 };
    values.set(op, v);
    return v;
  };

  const treeValue = new Map<Tree, { expr: Expr; step: number }>();
  for (const t of chain.trees) {
    const v = record(t.root);
    treeValue.set(t, v);
    if (t.decl !== null) pending.set(t.decl.symbol, v);
  }

  // compact as fuse(fn)'s flush does: only the leaves and scalars the outputs read, renumbered in order
  const roots = outputs.map((o) => treeValue.get(o.tree)!.expr);
  const used = topoSort(roots);
  const usedIn = new Set(used.filter((e) => e.op === 'input').map((e) => e.value));
  const usedS = new Set(used.filter((e) => e.op === 'scalar').map((e) => e.value));
  const leafIds = leaves.map((_, i) => i).filter((i) => usedIn.has(i));
  const scalarIds = scalars.map((_, i) => i).filter((i) => usedS.has(i));
  const remapIn: Expr[] = [], remapS: Expr[] = [];
  leafIds.forEach((k, j) => (remapIn[k] = input(j)));
  scalarIds.forEach((k, j) => (remapS[k] = scalar(j)));
  const compact = substitute(roots, remapIn, remapS);
  const nInputs = leafIds.length;

  const ref = (r: { kind: 'i' | 's' | 't'; index: number }): string => {
    if (r.kind === 't') return `t${r.index}`;
    const j = (r.kind === 'i' ? leafIds : scalarIds).indexOf(r.index);
    return j < 0 ? '_' : `${r.kind}${j}`;
  };
  const stepText = steps.map((s) => `${s.op}(${s.argNames.map((n, k) => `${n}=${ref(s.refs[k])}`).join(', ')})`);
  const unfusedBackward = chain.trees[0].root.use.module === true ? 0 : steps.reduce((n, s) => n + (backwardRoots([s.own], ['float32'], s.nArrays) === null ? 0 : 1), 0);
  const module = chain.trees[0].root.use.module === true;
  const fusedBackward = module ? 0 : backwardRoots(compact, compact.map(() => 'float32'), nInputs) === null ? 0 : 1;
  return {
    chain,
    // past the binding limit the renderer refuses the kernel: the caller splits the chain instead
    name: nInputs + outputs.length > MAX_BINDINGS ? '' : chainName(compact, nInputs),
    roots: compact,
    ir: exprsToJSON(compact),
    nInputs,
    steps: stepText,
    outputSteps: outputs.map((o) => treeValue.get(o.tree)!.step),
    inputs: leafIds.map((i) => ({ node: leaves[i].node })),
    scalars: scalarIds.map((i) => scalars[i]),
    outputs,
    ops: steps.map((s) => s.name),
    kernels,
    module,
    savedForward: steps.length - 1,
    savedBackward: unfusedBackward - fusedBackward,
  };
}

/**
 * The chain's outputs: the last tree's value, and every declared intermediate that is used
 * anywhere but as an operand inside the chain (or never used: its ops still run, as
 * unfused). Ordered by first use after the chain, which is how fuse(fn) collects them.
 */
export function outputsOf(chain: Chain): PlannedOutput[] {
  const fused = new Set<Node>();
  const collect = (op: OpCall) => {
    for (const o of [op.receiver, ...op.args]) {
      if (o === null) continue;
      if (o.kind === 'op') collect(o.op);
      else fused.add(Node.isParenthesizedExpression(o.node) ? o.node.getExpression() : o.node);
    }
  };
  for (const t of chain.trees) collect(t.root);
  const last = chain.trees[chain.trees.length - 1];
  const file = last.root.call.getSourceFile();
  const out: PlannedOutput[] = [];
  for (const t of chain.trees) {
    if (t === last) {
      if (t.decl === null) out.push({ decl: null, tree: t, firstUse: t.root.call.getStart() });
      else {
        const refs = referencesOf(t.decl, file).filter((r) => !fused.has(r));
        out.push({ decl: t.decl, tree: t, firstUse: refs.length === 0 ? Infinity : Math.min(...refs.map((r) => r.getStart())) });
      }
      continue;
    }
    const refs = referencesOf(t.decl!, file);
    const outside = refs.filter((r) => !fused.has(r));
    if (refs.length === 0 || outside.length > 0) {
      out.push({ decl: t.decl, tree: t, firstUse: outside.length === 0 ? Infinity : Math.min(...outside.map((r) => r.getStart())) });
    }
  }
  return out.sort((a, b) => a.firstUse - b.firstUse);
}
