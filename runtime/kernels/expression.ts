// The kernel-body language: a tokenizer and parser for C-like expressions, lowered to the IR.

import { Expr, constant, select, type ExprLike } from '../../compiler/expr.js';
import * as T from '../ops/activation.js';
import * as A from '../ops/arithmetic.js';
import { exprOf, type ElementwiseDef } from '../ops/elementwise.js';

/**
 * Where a piece of source text came from, for errors: `ElementwiseKernel squared_diff:
 * unexpected ')' at column 12 in "z = (x - y))"`. `part` names the piece when a kernel has
 * several (a reduction's map, reduce and post-map expressions).
 */
export interface SourceInfo {
  /** 'ElementwiseKernel squared_diff' */
  readonly kernel: string;
  readonly text: string;
  /** 'map', 'reduce', ...: put before the quoted text */
  readonly part?: string;
}

/**
 * An error that points into the source: what is wrong, where (1-based column, and line
 * when the text has several), the text, then `hint` if any, then the line with a caret.
 */
export function sourceError(src: SourceInfo, pos: number, what: string, hint?: string): Error {
  const before = src.text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - (before.lastIndexOf('\n') + 1) + 1;
  const at = src.text.includes('\n') ? `line ${line}, column ${column}` : `column ${column}`;
  const lineText = src.text.split('\n')[line - 1];
  const caret = `${' '.repeat(column - 1)}^`;
  const part = src.part === undefined ? '' : `${src.part} `;
  const more = hint === undefined ? '' : `; ${hint}`;
  return new Error(`${src.kernel}: ${what} at ${at} in ${part}${JSON.stringify(src.text)}${more}\n  ${lineText}\n  ${caret}`);
}

// ---- tokens ------------------------------------------------------------------------------

type TokenKind = 'number' | 'name' | 'op' | 'end';
interface Token { kind: TokenKind; text: string; pos: number; value: number }

// longest first, so `**` is not read as two `*`
const OPERATORS = ['**', '<=', '>=', '==', '!=', '+', '-', '*', '/', '<', '>', '?', ':', '(', ')', ',', '=', ';'];
// what C and CuPy users will try, with the reason it is refused
const REFUSED: Record<string, string> = {
  '%': 'the IR has no remainder',
  '&&': 'multiply two comparisons instead, (a > 0) * (b > 0)',
  '||': 'use max(a > 0, b > 0) instead',
  '!': 'compare with 0 instead, (a == 0)',
  '+=': 'write z = z + ...',
  '-=': 'write z = z - ...',
  '*=': 'write z = z * ...',
  '/=': 'write z = z / ...',
  '[': 'a kernel sees one element of each array, so there is no indexing',
};

const NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[fF]?/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

function tokenize(src: SourceInfo): Token[] {
  const s = src.text;
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const rest = s.slice(i);
    const ws = /^\s+/.exec(rest);
    if (ws) { i += ws[0].length; continue; }
    const num = NUMBER.exec(rest);
    if (num) {
      // `2x` or `1.2.3` is one malformed token, not a number followed by something
      const tail = /^[A-Za-z0-9_.]+/.exec(rest.slice(num[0].length));
      if (tail) throw sourceError(src, i, `malformed number '${num[0]}${tail[0]}'`);
      out.push({ kind: 'number', text: num[0], pos: i, value: Number(num[0].replace(/[fF]$/, '')) });
      i += num[0].length;
      continue;
    }
    const name = NAME.exec(rest);
    if (name) {
      out.push({ kind: 'name', text: name[0], pos: i, value: 0 });
      i += name[0].length;
      continue;
    }
    const refused = Object.keys(REFUSED).find((r) => rest.startsWith(r) && !(r === '!' && rest.startsWith('!=')));
    if (refused !== undefined) throw sourceError(src, i, `'${refused}' is not supported`, REFUSED[refused]);
    const op = OPERATORS.find((o) => rest.startsWith(o));
    if (op === undefined) throw sourceError(src, i, `unexpected character '${s[i]}'`);
    out.push({ kind: 'op', text: op, pos: i, value: 0 });
    i += op.length;
  }
  out.push({ kind: 'end', text: '', pos: s.length, value: 0 });
  return out;
}

const describeToken = (t: Token): string => (t.kind === 'end' ? 'end of input' : `'${t.text}'`);

// ---- syntax tree -------------------------------------------------------------------------

export type BinarySymbol = '+' | '-' | '*' | '/' | '**' | '<' | '<=' | '>' | '>=' | '==' | '!=';

/** A parsed expression; `pos` is where its first (or operator) token starts. */
export type Node =
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'name'; name: string; pos: number }
  | { kind: 'neg'; arg: Node; pos: number }
  | { kind: 'binary'; op: BinarySymbol; left: Node; right: Node; pos: number }
  | { kind: 'ternary'; cond: Node; a: Node; b: Node; pos: number }
  | { kind: 'call'; fn: string; args: Node[]; pos: number };

/** `target = expr`; a bare expression (where allowed) has no target. */
export interface Statement { target: string | null; pos: number; expr: Node }

const COMPARISONS = new Set(['<', '<=', '>', '>=', '==', '!=']);

/**
 * Recursive descent, loosest binding first: `?:` (right-associative), comparisons (not
 * chainable: `a < b < c` means different things in C and Python, so it is refused),
 * `+ -`, `* /` (left-associative), unary `- +`, `**` (right-associative and tighter than a
 * unary minus on its left, as in Python: -x**2 is -(x**2), 2**-1 is 0.5), then atoms.
 */
/** How deeply parentheses, unary signs, `**` and `?:` may nest: bounded, not the call stack's limit. */
export const MAX_NESTING = 500;

class Parser {
  private i = 0;
  private depth = 0;
  /** Count one level of nesting around `parse`; too deep is an error at the token, not a RangeError. */
  private nested<T>(parse: () => T): T {
    if (++this.depth > MAX_NESTING) {
      this.fail(this.peek, `expression nested more than ${MAX_NESTING} levels deep`, 'split it into statements with temporaries');
    }
    try { return parse(); } finally { this.depth--; }
  }
  constructor(private readonly src: SourceInfo, private readonly tokens: Token[]) {}

  private get peek(): Token { return this.tokens[this.i]; }
  private next(): Token { return this.tokens[this.i++]; }
  private isOp(text: string): boolean { return this.peek.kind === 'op' && this.peek.text === text; }
  private atEnd(): boolean { return this.peek.kind === 'end'; }
  private fail(t: Token, what?: string, hint?: string): never {
    throw sourceError(this.src, t.pos, what ?? `unexpected ${describeToken(t)}`, hint);
  }
  private expect(text: string, hint: string): Token {
    if (!this.isOp(text)) this.fail(this.peek, `expected '${text}', got ${describeToken(this.peek)}`, hint);
    return this.next();
  }

  /** statements separated by ';' (empty ones allowed); a lone expression when `bare`. */
  program(bare: boolean): Statement[] {
    const out: Statement[] = [];
    while (!this.atEnd()) {
      if (this.isOp(';')) { this.next(); continue; }
      const s = this.statement(bare && out.length === 0);
      out.push(s);
      if (s.target === null) {
        while (this.isOp(';')) this.next();
        if (!this.atEnd()) this.fail(this.peek, undefined, 'an expression without an assignment must stand alone');
      }
      if (!this.atEnd() && !this.isOp(';')) {
        // a name or number here is most likely the next statement, its ';' forgotten
        this.fail(this.peek, undefined, this.peek.kind === 'op' ? undefined : "statements are separated by ';'");
      }
    }
    return out;
  }

  private statement(bare: boolean): Statement {
    const t = this.peek, after = this.tokens[this.i + 1];
    if (t.kind === 'name' && after.kind === 'name') {
      this.fail(t, `unexpected type '${t.text}'`, `a temporary needs no declaration: write '${after.text} = ...'`);
    }
    if (t.kind === 'name' && after.kind === 'op' && after.text === '=') {
      this.i += 2;
      return { target: t.text, pos: t.pos, expr: this.expression() };
    }
    if (!bare) this.fail(t, `expected an assignment, got ${describeToken(t)}`, "a statement is 'name = expression'");
    return { target: null, pos: t.pos, expr: this.expression() };
  }

  /** One whole expression: everything must be consumed. */
  only(): Node {
    const e = this.expression();
    if (!this.atEnd()) this.fail(this.peek);
    return e;
  }

  expression(): Node { return this.nested(() => this.ternary()); }

  private ternary(): Node {
    const cond = this.comparison();
    if (!this.isOp('?')) return cond;
    const q = this.next();
    const a = this.expression();
    this.expect(':', `the '?' at column ${q.pos + 1} needs one`);
    const b = this.expression();
    return { kind: 'ternary', cond, a, b, pos: q.pos };
  }

  private comparison(): Node {
    const left = this.additive();
    if (this.peek.kind !== 'op' || !COMPARISONS.has(this.peek.text)) return left;
    const op = this.next();
    const right = this.additive();
    if (this.peek.kind === 'op' && COMPARISONS.has(this.peek.text)) {
      this.fail(this.peek, `chained comparison '${this.peek.text}'`, `add parentheses, as comparisons chain differently in C and Python`);
    }
    return { kind: 'binary', op: op.text as BinarySymbol, left, right, pos: op.pos };
  }

  private additive(): Node {
    let left = this.multiplicative();
    while (this.isOp('+') || this.isOp('-')) {
      const op = this.next();
      left = { kind: 'binary', op: op.text as BinarySymbol, left, right: this.multiplicative(), pos: op.pos };
    }
    return left;
  }

  private multiplicative(): Node {
    let left = this.unary();
    while (this.isOp('*') || this.isOp('/')) {
      const op = this.next();
      left = { kind: 'binary', op: op.text as BinarySymbol, left, right: this.unary(), pos: op.pos };
    }
    return left;
  }

  private unary(): Node { return this.nested(() => this.signed()); }

  private signed(): Node {
    if (this.isOp('-')) {
      const op = this.next();
      return { kind: 'neg', arg: this.unary(), pos: op.pos };
    }
    if (this.isOp('+')) {
      this.next();
      return this.unary();
    }
    return this.power();
  }

  private power(): Node {
    const base = this.atom();
    if (!this.isOp('**')) return base;
    const op = this.next();
    return { kind: 'binary', op: '**', left: base, right: this.unary(), pos: op.pos };
  }

  private atom(): Node {
    const t = this.next();
    if (t.kind === 'number') return { kind: 'number', value: t.value, pos: t.pos };
    if (t.kind === 'name') {
      if (!this.isOp('(')) return { kind: 'name', name: t.text, pos: t.pos };
      const open = this.next();
      const args: Node[] = [];
      if (!this.isOp(')')) {
        for (;;) {
          args.push(this.expression());
          if (!this.isOp(',')) break;
          this.next();
        }
      }
      this.expect(')', `to close the '(' of ${t.text} at column ${open.pos + 1}`);
      return { kind: 'call', fn: t.text, args, pos: t.pos };
    }
    if (t.kind === 'op' && t.text === '(') {
      const e = this.expression();
      this.expect(')', `to close the '(' at column ${t.pos + 1}`);
      return e;
    }
    return this.fail(t, t.kind === 'end' ? 'unexpected end of input' : undefined);
  }
}

/** Parse a body of `name = expr;` statements (or one bare expression when `bare`). */
export function parseStatements(src: SourceInfo, bare = false): Statement[] {
  const stmts = new Parser(src, tokenize(src)).program(bare);
  if (stmts.length === 0) throw sourceError(src, 0, 'empty body');
  return stmts;
}

/** Parse one expression. */
export function parseExpression(src: SourceInfo): Node {
  const tokens = tokenize(src);
  if (tokens.length === 1) throw sourceError(src, 0, 'empty expression');
  return new Parser(src, tokens).only();
}

// ---- lowering to the IR --------------------------------------------------------------------

type Builtin = { arity: number; build: (...a: Expr[]) => ExprLike };

/**
 * A row of the elementwise op table as a kernel function: the same expression F's op runs
 * (so a kernel's sigmoid cannot drift from F.sigmoid), trailing defaulted numbers as literals.
 */
function fromTable(op: { readonly def: ElementwiseDef }): Builtin {
  const { args, defaults = {} } = op.def;
  const fixed = args.filter((a) => defaults[a] === undefined);
  const rest = args.slice(fixed.length).map((a) => constant(defaults[a]!));
  return { arity: fixed.length, build: (...a) => exprOf(op.def, [...a, ...rest]) };
}

/**
 * The functions a body may call: the IR's primitives, the op table's rows under their F
 * names, and a few conveniences composed from them (so gradients and renderers come free).
 */
export const FUNCTIONS: Readonly<Record<string, Builtin>> = {
  exp: fromTable(A.exp),
  log: fromTable(A.log),
  sqrt: fromTable(A.sqrt),
  abs: fromTable(A.abs),
  sign: { arity: 1, build: (x) => x.sign() },
  tanh: fromTable(T.tanh),
  max: fromTable(A.maximum),
  min: fromTable(A.minimum),
  pow: { arity: 2, build: (a, b) => power(a, b) },
  sigmoid: fromTable(T.sigmoid),
  relu: fromTable(T.relu),
  softplus: fromTable(T.softplus),
  square: { arity: 1, build: (x) => x.mul(x) },
  rsqrt: { arity: 1, build: (x) => constant(1).div(x.sqrt()) },
  where: fromTable(A.where),
  clip: fromTable(A.clip),
};

/** Named constants; a parameter of the same name hides one. */
export const CONSTANTS: Readonly<Record<string, number>> = { inf: Infinity, nan: NaN, pi: Math.PI };

// x**2 as x*x and x**0.5 as sqrt(x): WGSL's pow is exp2(b * log2(a)), a few ulps off
function power(a: Expr, b: Expr): Expr {
  if (b.isConst && b.value === 2) return a.mul(a);
  if (b.isConst && b.value === 0.5) return a.sqrt();
  return a.pow(b);
}

const BINARY: { [S in BinarySymbol]: (a: Expr, b: Expr) => Expr } = {
  '+': (a, b) => a.add(b), '-': (a, b) => a.sub(b), '*': (a, b) => a.mul(b), '/': (a, b) => a.div(b),
  '**': power,
  '<': (a, b) => a.lt(b), '<=': (a, b) => a.le(b), '>': (a, b) => a.gt(b), '>=': (a, b) => a.ge(b),
  '==': (a, b) => a.eq(b), '!=': (a, b) => a.ne(b),
};

/** Looks a name up; returns undefined when it is unknown (lower then reports it). */
export type Scope = (name: string, pos: number) => Expr | undefined;

/** What is wrong with a name neither the scope nor CONSTANTS knows, and a hint. */
export type Unknown = (name: string) => [what: string, hint?: string];

/** The IR of `node`, names resolved by `scope` first, then CONSTANTS. */
export function lower(src: SourceInfo, node: Node, scope: Scope, unknown: Unknown): Expr {
  // Children are lowered first, from an explicit stack, so that go() below only ever looks
  // one level down: `x + x + ... + x` with thousands of terms is a tree thousands deep.
  const done = new Map<Node, Expr>();
  const kids = (n: Node): Node[] => {
    switch (n.kind) {
      case 'neg': return [n.arg];
      case 'binary': return [n.left, n.right];
      case 'ternary': return [n.cond, n.a, n.b];
      case 'call': return n.args;
      default: return [];
    }
  };
  const stack: { n: Node; expanded: boolean }[] = [{ n: node, expanded: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (done.has(top.n)) continue;
    if (top.expanded) { done.set(top.n, go(top.n)); continue; }
    stack.push({ n: top.n, expanded: true });
    for (const k of kids(top.n)) if (!done.has(k)) stack.push({ n: k, expanded: false });
  }
  return done.get(node)!;

  function go(n: Node): Expr {
    const memo = done.get(n);
    if (memo !== undefined) return memo;
    switch (n.kind) {
      case 'number': return constant(n.value);
      case 'name': {
        const e = scope(n.name, n.pos);
        if (e !== undefined) return e;
        if (Object.hasOwn(CONSTANTS, n.name)) return constant(CONSTANTS[n.name]);
        if (Object.hasOwn(FUNCTIONS, n.name)) throw sourceError(src, n.pos, `'${n.name}' is a function`, `call it: ${n.name}(...)`);
        const [what, hint] = unknown(n.name);
        throw sourceError(src, n.pos, what, hint);
      }
      case 'neg': return go(n.arg).neg();
      case 'binary': return BINARY[n.op](go(n.left), go(n.right));
      case 'ternary': return select(go(n.cond), go(n.a), go(n.b));
      case 'call': {
        const f = Object.hasOwn(FUNCTIONS, n.fn) ? FUNCTIONS[n.fn] : undefined;
        if (f === undefined) {
          throw sourceError(src, n.pos, `unknown function '${n.fn}'`, `the functions are ${Object.keys(FUNCTIONS).join(', ')}`);
        }
        if (n.args.length !== f.arity) {
          throw sourceError(src, n.pos, `${n.fn} takes ${f.arity} argument${f.arity === 1 ? '' : 's'}, got ${n.args.length}`);
        }
        const r = f.build(...n.args.map(go));
        return typeof r === 'number' ? constant(r) : r;
      }
      default: return n satisfies never;
    }
  }
}
