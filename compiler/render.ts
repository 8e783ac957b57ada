// Straight-line rendering shared by the text renderers: each target only states its dialect.

import { Expr, topoSort, type BinaryOp, type UnaryOp } from './expr.js';

/** How one target language spells the primitives. */
export interface Dialect {
  /** the declaration keyword of a temporary ('const' in JS, 'let' in WGSL) */
  readonly decl: string;
  literal(value: number): string;
  readonly unary: { readonly [O in UnaryOp]: (x: string) => string };
  readonly binary: { readonly [O in BinaryOp]: (a: string, b: string) => string };
  /** cond is a number: non-zero means true */
  select(cond: string, a: string, b: string): string;
}

/**
 * Straight-line code for `roots`: one temporary per interior node, in dependency order, so
 * a subterm used twice is computed once. Returns the statements and each root's variable.
 */
export function renderBody(roots: readonly Expr[], name: (leaf: Expr) => string, dialect: Dialect): { lines: string[]; results: string[] } {
  const vars = new Map<Expr, string>();
  const lines: string[] = [];
  let t = 0;
  for (const n of topoSort(roots)) {
    let code: string;
    switch (n.op) {
      case 'input': case 'scalar': vars.set(n, name(n)); continue;
      case 'const': vars.set(n, dialect.literal(n.value)); continue;
      case 'select': {
        const [c, a, b] = n.args.map((x) => vars.get(x)!);
        code = dialect.select(c, a, b);
        break;
      }
      default: {
        const a = n.args.map((x) => vars.get(x)!);
        code = a.length === 1 ? dialect.unary[n.op as UnaryOp](a[0]) : dialect.binary[n.op as BinaryOp](a[0], a[1]);
      }
    }
    const v = `t${t++}`;
    lines.push(`${dialect.decl} ${v} = ${code};`);
    vars.set(n, v);
  }
  return { lines, results: roots.map((r) => vars.get(r)!) };
}
