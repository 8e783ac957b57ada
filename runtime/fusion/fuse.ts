// fuse(fn): elementwise op calls inside fn are deferred and run as one fused Elementwise node per region.

import { Expr, input, scalar, substitute } from '../../compiler/expr.js';
import { sameDevice } from '../array/backend.js';
import { NDArray, broadcastShapes, type DType, type Device } from '../array/ndarray.js';
import { array } from '../array/xp.js';
import { config, usingConfig } from '../graph/config.js';
import { Variable, type VariableNode } from '../graph/variable.js';
import { Elementwise, TRACE, elementwiseDtype, type ElementwiseDef } from '../ops/elementwise.js';

/**
 * An op and the ops that made its deferred arguments: a value's history for the fused node's
 * label. Apart from Pending, so a value keeps no other value's data alive through it.
 */
interface OpTree { readonly op: string; readonly from: readonly OpTree[] }

/** One deferred op application: its expression over the trace's leaves, and its Variable. */
interface Pending {
  /** the op that made this value and what it read, for the fused node's label */
  readonly ops: OpTree;
  /** the value as an expression over input(leaf index) and scalar(trace scalar index) */
  readonly expr: Expr;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device;
  readonly intClosed: boolean;
  readonly record: boolean;
  variable: Variable;
  /** set once the value has been computed (it is then a leaf for later ops) */
  data: NDArray | null;
  node: VariableNode | null;
  readonly trace: Trace;
}

/** One fused node as a trace ran it: everything but its arguments, so a replay can run it again. */
interface Region {
  readonly label: string;
  /** the outputs over input(k) (the node's k-th argument) and scalar(j) (scalars[j]) */
  readonly exprs: readonly Expr[];
  readonly scalars: readonly number[];
  readonly dtypes: readonly DType[];
  /** the node's argument names, as the trace numbered its leaves (x0, x2, ...) */
  readonly names: readonly string[];
  /** whether the node records a graph (an output requires grad, and backprop is on) */
  readonly record: boolean;
}

const runRegion = (r: Region, args: (Variable | NDArray)[]): Variable[] =>
  usingConfig({ enableBackprop: r.record }, () =>
    new Elementwise(r.label, r.exprs, r.scalars, r.names, r.dtypes).apply(args));

/**
 * A Variable standing for a value not computed yet: shape and dtype are known; reading `data`
 * or its graph `node` runs the deferred region that produces it, then it is a plain Variable,
 * recorded in the graph as that fused node's output.
 */
class Placeholder extends Variable {
  constructor(readonly p: Pending) {
    super(stub(p.dtype), { requiresGrad: p.record });
  }

  private materialized(): Pending {
    if (this.p.data === null) this.p.trace.flush([this.p]);
    return this.p;
  }

  override get data(): NDArray { return this.materialized().data!; }
  override set data(d: NDArray) { this.materialized().data = d; }
  override get node(): VariableNode { return this.materialized().node!; }
  override get shape(): readonly number[] { return this.p.shape; }
  override get dtype(): DType { return this.p.dtype; }
  override get ndim(): number { return this.p.shape.length; }
  override get size(): number { return this.p.shape.reduce((a, b) => a * b, 1); }
}

/** What one call of a fused function has deferred so far. */
class Trace {
  readonly leaves: (Variable | NDArray)[] = [];
  readonly scalars: number[] = [];
  /** The deferred value a Variable stands for, when it is a placeholder of this trace. */
  pendingOf(x: Variable | NDArray): Pending | undefined {
    return x instanceof Placeholder && x.p.trace === this ? x.p : undefined;
  }
  /** the fused nodes run so far, in order: what a replay of this trace needs */
  readonly ran: { region: Region; args: (Variable | NDArray)[]; outputs: readonly Pending[] }[] = [];

  leafIndex(x: Variable | NDArray): number {
    const i = this.leaves.indexOf(x);
    if (i >= 0) return i;
    this.leaves.push(x);
    return this.leaves.length - 1;
  }

  record(def: ElementwiseDef, expr: Expr, args: (Variable | NDArray)[], names: string[], scalars: number[]): Variable {
    // one pass over the arguments: what each is (a deferred value, as its expression, or else a
    // leaf of the trace), for the checks each op makes unfused, with its own name and argument names
    const shapes: (readonly number[])[] = [], dtypes: DType[] = [], devices: Device[] = [], exprs: Expr[] = [], from: OpTree[] = [];
    let record = false;
    for (const a of args) {
      const p = this.pendingOf(a);
      if (p !== undefined) from.push(p.ops);
      if (p !== undefined && p.data === null) {
        shapes.push(p.shape);
        dtypes.push(p.dtype);
        devices.push(p.device);
        exprs.push(p.expr);
      } else {
        shapes.push(a.shape);
        dtypes.push(a.dtype);
        devices.push(a instanceof Variable ? a.data.device : a.device);
        exprs.push(input(this.leafIndex(a)));
      }
      if (a instanceof Variable && a.requiresGrad) record = true;
    }
    const shape = broadcastShapes(shapes, def.name, names);
    const dtype = elementwiseDtype(def.name, names, dtypes, def.intClosed === true, scalars);
    const device = sameDevice(devices, def.name, names);
    const base = this.scalars.length;
    const scalarExprs: Expr[] = [];
    for (let j = 0; j < scalars.length; j++) {
      this.scalars.push(scalars[j]);
      scalarExprs.push(scalar(base + j));
    }
    const full = substitute([expr], exprs, scalarExprs)[0];
    const p: Pending = {
      ops: { op: def.name, from }, expr: full, shape, dtype, device, intClosed: dtype === 'int32',
      record: record && config.enableBackprop, variable: null!, data: null, node: null, trace: this,
    };
    p.variable = new Placeholder(p);
    return p.variable;
  }

  /**
   * Run the values `wanted` as ONE fused Elementwise node over the leaves they read. Other
   * deferred values stay deferred (a later use recomputes them from the leaves inside its own
   * kernel, which costs arithmetic, not a launch).
   */
  flush(wanted: readonly Pending[]): void {
    // a kernel writes all its outputs at one shape: values of other shapes get their own
    const byShape = new Map<string, Pending[]>();
    for (const p of wanted) {
      if (p.data !== null || byShape.get(p.shape.join())?.includes(p)) continue;
      byShape.set(p.shape.join(), [...(byShape.get(p.shape.join()) ?? []), p]);
    }
    for (const group of byShape.values()) this.flushGroup(group);
  }

  private flushGroup(todo: readonly Pending[]): void {
    const roots = todo.map((p) => p.expr);
    const leafIds = this.leaves.map((_, i) => i).filter((i) => roots.some((r) => usesInput(r, i)));
    const scalarIds = this.scalars.map((_, i) => i).filter((i) => roots.some((r) => usesScalar(r, i)));
    const remapIn: Expr[] = [], remapS: Expr[] = [];
    leafIds.forEach((k, j) => (remapIn[k] = input(j)));
    scalarIds.forEach((k, j) => (remapS[k] = scalar(j)));
    const region: Region = {
      label: `fused(${opsOf(todo).join(',')})`,
      exprs: substitute(roots, remapIn, remapS),
      scalars: scalarIds.map((i) => this.scalars[i]),
      dtypes: todo.map((p) => p.dtype),
      names: leafIds.map((i) => `x${i}`),
      record: todo.some((p) => p.record),
    };
    const args = leafIds.map((i) => this.leaves[i]);
    const ys = runRegion(region, args);
    this.ran.push({ region, args, outputs: todo });
    todo.forEach((p, j) => {
      p.data = ys[j].data;
      p.node = ys[j].node;
      p.variable.requiresGrad = ys[j].requiresGrad;
    });
  }

  /** Every deferred value reachable from `out` (a Variable, or arrays and objects of them). */
  collect(out: unknown, found: Pending[] = [], seen = new Set<unknown>()): Pending[] {
    if (out === null || typeof out !== 'object' || seen.has(out)) return found;
    seen.add(out);
    if (out instanceof Variable) {
      const p = this.pendingOf(out);
      if (p !== undefined && p.data === null) found.push(p);
      return found;
    }
    if (out instanceof NDArray) return found;
    for (const v of Array.isArray(out) ? out : Object.values(out)) this.collect(v, found, seen);
    return found;
  }
}

/** The ops the values `todo` are made of, each once, in the order the trace met them. */
function opsOf(todo: readonly Pending[]): string[] {
  const names: string[] = [];
  const seen = new Set<OpTree>();
  // post-order with an explicit stack: a trace may chain thousands of ops
  for (const { ops: root } of todo) {
    const stack: { t: OpTree; next: number }[] = seen.has(root) ? [] : [{ t: root, next: 0 }];
    seen.add(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.t.from.length) {
        const q = top.t.from[top.next++];
        if (!seen.has(q)) {
          seen.add(q);
          stack.push({ t: q, next: 0 });
        }
      } else {
        if (!names.includes(top.t.op)) names.push(top.t.op);
        stack.pop();
      }
    }
  }
  return names;
}

const stubs = new Map<DType, NDArray>();
/** The array a placeholder is constructed on, one per dtype: its own accessors answer for it at once. */
function stub(dtype: DType): NDArray {
  let a = stubs.get(dtype);
  if (a === undefined) stubs.set(dtype, (a = array([0], [1], dtype)));
  return a;
}

const usesInput = (e: Expr, i: number): boolean => leavesOf(e).inputs.has(i);
const usesScalar = (e: Expr, i: number): boolean => leavesOf(e).scalars.has(i);
const leafCache = new Map<Expr, { inputs: Set<number>; scalars: Set<number> }>();
function leavesOf(e: Expr): { inputs: Set<number>; scalars: Set<number> } {
  let c = leafCache.get(e);
  if (c === undefined) {
    c = { inputs: new Set(), scalars: new Set() };
    const stack = [e], seen = new Set<Expr>();
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (seen.has(n)) continue;
      seen.add(n);
      if (n.op === 'input') c.inputs.add(n.value);
      else if (n.op === 'scalar') c.scalars.add(n.value);
      else stack.push(...n.args);
    }
    leafCache.set(e, c);
  }
  return c;
}

// ---- reading values while tracing is an error -----------------------------------------------

const READS = ['toFlat', 'dataSync', 'data', 'toArray', 'array', 'itemSync', 'item', 'toCpu'] as const;

/** Whether a fused function is being traced now: the guards below refuse reads while it is. */
let tracing = false;

const readError = (what: string) => new Error(`fuse: the function reads an array's values (${what}) while it is traced; a fused function may not depend on data (move the read, or the branch on it, outside fuse)`);
const branchError = () => new Error('fuse: the function compares or converts a Variable as a number (a branch on data, such as `if (x > 0)`); a fused function may not branch on array values');

// Every way of reading an array's values, and a Variable's conversion to a number, throw while
// a trace runs. Installed once, here, at load: swapping the prototypes' methods on each call
// cost a traced call ~12% of its time, and made V8 forget what it had learned about them.
{
  const proto = NDArray.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const m of READS) {
    const read = proto[m];
    if (typeof read !== 'function') continue;
    proto[m] = function guardedRead(this: NDArray, ...a: unknown[]) {
      if (tracing) throw readError(`${m}()`);
      return read.apply(this, a);
    };
  }
  // untraced, a Variable converts as it would without this: valueOf gives no primitive, so toString's text
  Object.defineProperty(Variable.prototype, Symbol.toPrimitive, {
    value: function toPrimitive(this: Variable) {
      if (tracing) throw branchError();
      return this.toString();
    },
    configurable: true,
  });
}

/** Run `fn` with every way of reading an array's values throwing an error that says why. */
function guarded<T>(fn: () => T): T {
  tracing = true;
  try {
    return fn();
  } finally {
    tracing = false;
  }
}

/**
 * A traced call that can stand for every later call of its signature: fn's elementwise ops made
 * ONE fused node over fn's own arguments, and fn returned that node's outputs.
 */
interface Replay {
  readonly region: Region;
  /** the argument each of the node's arguments is */
  readonly argOf: readonly number[];
  /** fn returned one Variable (output 0), or an array of the node's outputs in this order */
  readonly returned: number | readonly number[];
}

/** Traced signatures kept per fused function; past this the oldest is forgotten. */
const MAX_SIGNATURES = 16;

/**
 * What a call's trace depends on besides fn's code: each argument's kind, shape, dtype,
 * device and requiresGrad, a number's value, which arguments are one and the same array (f(x, x)
 * traces one leaf), and the train and backprop modes. Null for an argument of another kind (an
 * object, a string), which is traced at every call.
 */
function signatureOf(args: readonly unknown[]): string | null {
  let key = `${config.train ? 'T' : 't'}${config.enableBackprop ? 'B' : 'b'}`;
  for (const [i, a] of args.entries()) {
    const first = args.indexOf(a);
    if (first !== i && typeof a === 'object') key += `|=${first}`;
    else if (a instanceof Variable) key += `|v${a.shape.join('x')}:${a.dtype}:${a.data.device}:${a.requiresGrad ? 1 : 0}`;
    else if (a instanceof NDArray) key += `|a${a.shape.join('x')}:${a.dtype}:${a.device}`;
    else if (typeof a === 'number') key += `|n${Object.is(a, -0) ? '-0' : String(a)}`;
    else return null;
  }
  return key;
}

/** The replay a finished trace allows, or null when fn must run at every call of this signature. */
function replayOf(trace: Trace, args: readonly unknown[], out: unknown): Replay | null {
  if (trace.ran.length !== 1) return null;
  const { region, args: leaves, outputs } = trace.ran[0];
  // a leaf fn did not take as an argument (a closure's Variable, an eager op's result) may be
  // another array at the next call: only fn's own arguments can be bound again
  const argOf = leaves.map((leaf) => args.indexOf(leaf));
  if (argOf.includes(-1)) return null;
  const outputOf = (v: unknown) => (v instanceof Placeholder ? outputs.indexOf(v.p) : -1);
  if (!Array.isArray(out)) {
    const k = outputOf(out);
    return k === -1 ? null : { region, argOf, returned: k };
  }
  const returned = out.map(outputOf);
  return returned.includes(-1) ? null : { region, argOf, returned };
}

/** What fuse(fn) returns: fn with its elementwise regions fused; `stats` for tests. */
export type Fused<A extends unknown[], R> = ((...args: A) => R) & { readonly stats: { calls: number; traces: number; regions: number } };

/**
 * `fuse(fn)` (cupy.fuse, jax.jit for code that is not built): every elementwise op `fn`
 * calls (F.add, F.tanh, x.mul...) is deferred; a run of them runs as ONE fused kernel
 * forward and ONE backward when its value is needed: by a non-elementwise op (matmul, sum),
 * which runs eagerly in place, or when `fn` returns. Results and gradients equal the
 * unfused run within float32 rounding; errors name the op and argument as unfused code does.
 *
 * `fn` must not read array values or branch on them (item(), toArray(), `if (x > 0)`):
 * that throws an error naming fuse, never a silently wrong result.
 *
 * As jax.jit, fn is traced at its first call per signature (each argument's shape, dtype,
 * device and requiresGrad, the numbers passed, the train and backprop modes): when that trace
 * ran one fused node over fn's own arguments and fn returned its outputs, later calls of the
 * signature run that node on the new arguments without running fn again. So fn's other side
 * effects happen at tracing only, and a number fn reads from outside its arguments (a closure's
 * `let`) is the one it read then: pass what varies as an argument. A trace that read a Variable
 * fn was not given (a closure's, or a matmul's result) or ran several nodes is not replayed:
 * fn runs at every call, as do calls with an argument that is not an array or a number.
 *
 * ```ts
 * const f = fuse((x: Variable, a: Variable, b: Variable) =>
 *   F.add(F.mul(F.tanh(F.add(F.mul(x, a), b)), F.sigmoid(x)), F.mul(F.mul(x, x), 0.5)));
 * const y = f(x, a, b); // one kernel forward; y.backward() one kernel backward
 * ```
 */
export function fuse<A extends unknown[], R>(fn: (...args: A) => R): Fused<A, R> {
  const stats = { calls: 0, traces: 0, regions: 0 };
  const replays = new Map<string, Replay | null>();
  const fused = (...args: A): R => {
    if (TRACE.hook !== null) return fn(...args); // nested: the outer trace already defers
    const key = signatureOf(args);
    const replay = key === null ? undefined : replays.get(key);
    if (replay) {
      stats.calls++;
      stats.regions++;
      const ys = runRegion(replay.region, replay.argOf.map((k) => args[k] as Variable | NDArray));
      return (typeof replay.returned === 'number' ? ys[replay.returned] : replay.returned.map((k) => ys[k])) as R;
    }
    const trace = new Trace();
    TRACE.hook = (def, expr, arrays, names, scalars) => trace.record(def, expr, arrays, names, scalars);
    let out: R;
    try {
      out = guarded(() => fn(...args));
      if (out instanceof Promise) {
        // an async fn has already run up to its first await, under the guard: report what it hit
        const why = new Error('fuse: the function returned a Promise; a fused function must be synchronous (an `await` inside it, e.g. on x.item(), reads data while tracing)');
        return out.then(() => { throw why; }, (e: unknown) => { throw e instanceof Error && e.message.startsWith('fuse:') ? e : why; }) as R;
      }
      trace.flush(trace.collect(out));
    } finally {
      TRACE.hook = null;
      stats.calls++;
      stats.traces++;
      stats.regions += trace.ran.length;
    }
    if (key !== null && replay === undefined) {
      if (replays.size >= MAX_SIGNATURES) replays.delete(replays.keys().next().value!);
      replays.set(key, replayOf(trace, args, out));
    }
    return out;
  };
  return Object.assign(fused, { stats });
}
