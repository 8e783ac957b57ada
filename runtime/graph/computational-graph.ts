// Draw the graph a run recorded as Graphviz DOT (Chainer's computational_graph).

import { shapeStr } from '../array/ndarray.js';
import type { FunctionNode, Variable } from './variable.js';

/**
 * The graph behind `outputs` in DOT: variables as ellipses (name or shape), functions as
 * boxes, edges in the direction data flowed. `dot -Tpng` renders it.
 */
export function buildComputationalGraph(outputs: readonly Variable[]): string {
  const ids = new Map<Variable | FunctionNode, string>();
  const id = (n: Variable | FunctionNode) => {
    let s = ids.get(n);
    if (s === undefined) ids.set(n, (s = `n${ids.size}`));
    return s;
  };
  const lines: string[] = ['digraph graphname {'];
  // names are user text: a quote, backslash or newline must not end the DOT string
  const esc = (text: string) => text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\r?\n|\r/g, '\\n');
  const varLabel = (v: Variable) => esc(`${v.name ?? ''}${v.name ? ' ' : ''}${shapeStr(v.shape)} ${v.dtype}`);
  const seen = new Set<Variable | FunctionNode>();
  const stack: Variable[] = [];
  const addVar = (v: Variable) => {
    if (seen.has(v)) return;
    seen.add(v);
    lines.push(`  ${id(v)} [label="${varLabel(v)}", shape="oval"];`);
    stack.push(v);
  };
  outputs.forEach(addVar);
  while (stack.length > 0) {
    const v = stack.pop()!;
    const f = v.creator;
    if (f === null) continue;
    if (!seen.has(f)) {
      seen.add(f);
      lines.push(`  ${id(f)} [label="${esc(f.label)}", shape="box", style="filled", fillcolor="gray90"];`);
      for (const x of f.inputs) {
        addVar(x);
        lines.push(`  ${id(x)} -> ${id(f)};`);
      }
    }
    lines.push(`  ${id(f)} -> ${id(v)};`);
  }
  lines.push('}');
  return lines.join('\n');
}
