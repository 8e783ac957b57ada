// Expressions as JSON: a declared kernel's IR survives a file or another process unchanged (same nodes, same hash).

import { BINARY_OPS, Expr, UNARY_OPS, topoSort, type Op } from './expr.js';

/**
 * A serialized DAG: `nodes[k]` is [op, value, ...argument indices], arguments always at
 * lower indices (children first, as topoSort orders them), and `roots` index into nodes.
 * A literal's value is a number, or 'NaN' / 'Infinity' / '-Infinity' / '-0', which JSON
 * cannot carry as numbers.
 */
export interface SerializedExprs {
  readonly format: 'kusari-expr';
  readonly version: 1;
  readonly nodes: readonly (readonly (string | number)[])[];
  readonly roots: readonly number[];
}

const ARITY = new Map<Op, number>([
  ['input', 0], ['scalar', 0], ['const', 0], ['select', 3],
  ...UNARY_OPS.map((o) => [o, 1] as [Op, number]), ...BINARY_OPS.map((o) => [o, 2] as [Op, number]),
]);

const encodeValue = (v: number): string | number =>
  (Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : Object.is(v, -0) ? '-0' : v);
const SPECIAL: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };

/** `roots` as plain JSON data (JSON.stringify it); the same DAG gives the same text in every process. */
export function exprsToJSON(roots: readonly Expr[]): SerializedExprs {
  const order = topoSort(roots);
  const index = new Map(order.map((e, k) => [e, k]));
  return {
    format: 'kusari-expr',
    version: 1,
    nodes: order.map((e) => [e.op, encodeValue(e.value), ...e.args.map((a) => index.get(a)!)]),
    roots: roots.map((r) => index.get(r)!),
  };
}

/**
 * The expressions back, node for node (no simplification, so a kernel rendered from them
 * has the name it had when it was saved). Anything malformed is an error naming `what`,
 * the node and what was expected, never a silently different kernel.
 */
export function exprsFromJSON(data: unknown, what = 'exprsFromJSON'): Expr[] {
  const fail = (msg: string): never => { throw new Error(`${what}: ${msg}`); };
  if (typeof data !== 'object' || data === null) return fail(`expected a serialized expression object, got ${data === null ? 'null' : typeof data}`);
  const d = data as Partial<SerializedExprs>;
  if (d.format !== 'kusari-expr') fail(`expected format 'kusari-expr', got ${JSON.stringify(d.format)}`);
  if (d.version !== 1) fail(`expected version 1, got ${JSON.stringify(d.version)}`);
  if (!Array.isArray(d.nodes) || !Array.isArray(d.roots)) return fail('expected arrays `nodes` and `roots`');
  const built: Expr[] = [];
  d.nodes.forEach((node, k) => {
    if (!Array.isArray(node) || node.length < 2) fail(`node ${k}: expected [op, value, ...args], got ${JSON.stringify(node)}`);
    const [op, raw, ...args] = node as (string | number)[];
    const arity = ARITY.get(op as Op);
    if (arity === undefined) fail(`node ${k}: unknown op ${JSON.stringify(op)}`);
    if (args.length !== arity) fail(`node ${k}: ${op} takes ${arity} arguments, got ${args.length}`);
    const value = typeof raw === 'string' && raw in SPECIAL ? SPECIAL[raw] : raw;
    if (typeof value !== 'number') return fail(`node ${k}: expected a number value, got ${JSON.stringify(raw)}`);
    if ((op === 'input' || op === 'scalar') && !(Number.isInteger(value) && value >= 0 && value < 2 ** 16)) {
      fail(`node ${k}: ${op} index must be an integer in [0, 65536), got ${value}`);
    }
    const argNodes = args.map((a) => {
      if (!(Number.isInteger(a) && (a as number) >= 0 && (a as number) < k)) return fail(`node ${k}: argument ${JSON.stringify(a)} must index an earlier node (0..${k - 1})`);
      return built[a as number];
    });
    built.push(Expr.make(op as Op, argNodes, arity === 0 ? value : 0));
  });
  return d.roots.map((r, j) => {
    if (!(Number.isInteger(r) && r >= 0 && r < built.length)) return fail(`root ${j}: ${JSON.stringify(r)} is not a node index (0..${built.length - 1})`);
    return built[r];
  });
}
