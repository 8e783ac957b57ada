// The front end: forward functions, their straight-line regions, and the chains of resolved op calls in them.

import { Node, SyntaxKind, type CallExpression, type SourceFile, type Statement, type Symbol as MorphSymbol } from 'ts-morph';
import { isKusariClass, resolveCall, type OpUse, type Refusal } from './resolve.js';

/** One resolved op call and where its operands come from. */
export interface OpCall {
  readonly call: CallExpression;
  readonly use: OpUse;
  /** the receiver's operand (methods) and each argument's, in call order */
  readonly receiver: Operand | null;
  readonly args: readonly Operand[];
}

/** An operand: another op of the same tree, or a leaf (an array or number expression evaluated as written). */
export type Operand = { readonly kind: 'op'; readonly op: OpCall } | { readonly kind: 'leaf'; readonly node: Node };

/** A maximal tree of op calls inside one expression. */
export interface Tree {
  readonly root: OpCall;
  readonly stmt: Statement | null;
  /** the variable the tree initializes (`const h = <tree>`), when that is all its statement does */
  readonly decl: DeclInfo | null;
}

export interface DeclInfo {
  readonly name: string;
  readonly symbol: MorphSymbol;
  readonly keyword: 'const' | 'let' | 'var';
  readonly annotation: string | null;
}

/** A chain: trees of one straight-line region joined through the variables they declare. */
export interface Chain {
  readonly trees: readonly Tree[];
  /** the function it is in, and whether that function is tagged `@fuse` */
  readonly fn: Node;
  readonly tagged: boolean;
}

export interface LeftAlone {
  readonly node: Node;
  readonly reason: string;
  readonly message: string;
  readonly tagged: boolean;
}

/** A `@fuse` function that cannot be fused: the build fails with this. */
export interface TaggedFailure { readonly node: Node; readonly reason: string; readonly message: string }

export interface Analysis {
  readonly chains: Chain[];
  readonly leftAlone: LeftAlone[];
  readonly failures: TaggedFailure[];
}

const LINK_CLASSES = new Set(['Link', 'Chain', 'ChainList']);

/** Whether a function-like is fusion code: a forward method of a Link, a function named forward, or tagged @fuse. */
function targetOf(fn: Node): { target: boolean; tagged: boolean } {
  const tagged = hasFuseTag(fn);
  if (tagged) return { target: true, tagged };
  if (Node.isMethodDeclaration(fn) && fn.getName() === 'forward') {
    const cls = fn.getParent();
    if (Node.isClassDeclaration(cls) || Node.isClassExpression(cls)) {
      const base = cls.getBaseClass();
      const ext = cls.getExtends();
      if (ext !== undefined && isKusariClass(ext.getType(), LINK_CLASSES)) return { target: true, tagged };
      if (base !== undefined && isKusariClass(base.getType(), LINK_CLASSES)) return { target: true, tagged };
    }
    return { target: false, tagged };
  }
  if (Node.isFunctionDeclaration(fn) || Node.isFunctionExpression(fn)) {
    if (fn.getName() === 'forward') return { target: true, tagged };
  }
  if (Node.isArrowFunction(fn) || Node.isFunctionExpression(fn)) {
    const p = fn.getParent();
    if ((Node.isVariableDeclaration(p) || Node.isPropertyAssignment(p) || Node.isPropertyDeclaration(p)) && p.getName() === 'forward') return { target: true, tagged };
  }
  return { target: false, tagged };
}

function hasFuseTag(fn: Node): boolean {
  const docsOf = (n: Node | undefined): boolean => {
    if (n === undefined) return false;
    const docs = (n as unknown as { getJsDocs?: () => { getTags(): { getTagName(): string }[] }[] }).getJsDocs?.() ?? [];
    return docs.some((d) => d.getTags().some((t) => t.getTagName() === 'fuse'));
  };
  if (docsOf(fn)) return true;
  if (Node.isArrowFunction(fn) || Node.isFunctionExpression(fn)) {
    const decl = fn.getParent();
    if (Node.isVariableDeclaration(decl)) return docsOf(decl.getParent()?.getParent());
  }
  return false;
}

const isFunctionLike = (n: Node): boolean =>
  Node.isFunctionDeclaration(n) || Node.isMethodDeclaration(n) || Node.isArrowFunction(n) || Node.isFunctionExpression(n)
  || Node.isGetAccessorDeclaration(n) || Node.isSetAccessorDeclaration(n) || Node.isConstructorDeclaration(n);

const unparen = (n: Node): Node => (Node.isParenthesizedExpression(n) ? unparen(n.getExpression()) : n);

/** Analyse one file: every target function's chains, what was left alone, and @fuse failures. */
export function analyze(file: SourceFile): Analysis {
  const out: Analysis = { chains: [], leftAlone: [], failures: [] };
  const resolved = new Map<Node, ReturnType<typeof resolveCall>>();
  const resolve = (c: CallExpression) => {
    if (!resolved.has(c)) resolved.set(c, resolveCall(c));
    return resolved.get(c)!;
  };

  const visitFunctions = (root: Node, inTarget: boolean, tagged: boolean): void => {
    root.forEachChild((child) => {
      if (isFunctionLike(child)) {
        const t = targetOf(child);
        const target = inTarget || t.target;
        const tag = t.tagged || (inTarget && tagged);
        if (target) new Region(child, t.tagged ? true : tag, resolve, out).run();
        visitFunctions(child, target, tag);
      } else {
        visitFunctions(child, inTarget, tagged);
      }
    });
  };
  visitFunctions(file, false, false);
  return out;
}

/** One function body: straight-line runs of statements, each grouping its trees into chains. */
class Region {
  /** the function's own statements group into chains; nested functions are regions of their own */
  constructor(
    readonly fn: Node,
    readonly tagged: boolean,
    readonly resolve: (c: CallExpression) => ReturnType<typeof resolveCall>,
    readonly out: Analysis,
  ) {}

  private group: Tree[] = [];

  run(): void {
    const body = (this.fn as unknown as { getBody?: () => Node | undefined }).getBody?.();
    if (body === undefined) return;
    if (Node.isBlock(body)) this.statements(body.getStatements());
    else this.standalone(body); // an arrow's expression body
    if (this.tagged) this.checkTagged(body);
  }

  /** A @fuse function must be one straight line: any control flow fails the build. */
  private checkTagged(body: Node): void {
    const bad = this.boundaryIn(body);
    if (bad !== null) {
      this.out.failures.push({ node: bad, reason: 'control-flow', message: `${fnName(this.fn)} is tagged @fuse but holds ${describeBoundary(bad)} at line ${bad.getStartLineNumber()}; a fused function must be straight-line code (move the branch out, or drop the tag)` });
    }
  }

  private boundaryIn(n: Node): Node | null {
    let found: Node | null = null;
    n.forEachDescendant((d, t) => {
      if (found !== null) return t.stop();
      if (isFunctionLike(d)) return t.skip();
      if (isControlFlow(d) || Node.isAwaitExpression(d) || Node.isYieldExpression(d) || Node.isConditionalExpression(d)) {
        found = d;
        return t.stop();
      }
      return undefined;
    });
    return found;
  }

  private statements(stmts: readonly Statement[]): void {
    for (const s of stmts) this.statement(s);
    this.flush('end');
  }

  private statement(s: Statement): void {
    if (isControlFlow(s)) {
      this.flush(`the ${describeBoundary(s)} at line ${s.getStartLineNumber()}`, 'control-flow');
      // the statement's own expressions (conditions, headers) hold standalone trees; its bodies are regions
      for (const child of s.getChildren()) this.compoundChild(child);
      return;
    }
    if (this.hasAwaitOrYield(s)) {
      this.flush(`the ${s.getText().includes('yield') ? 'yield' : 'await'} at line ${s.getStartLineNumber()}`, 'control-flow');
      this.standalone(s);
      return;
    }
    const trees = this.treesIn(s);
    const main = mainExpr(s);
    const mainTree = main === null ? undefined : trees.find((t) => t.root.call === main);
    if (mainTree === undefined) {
      if (trees.length > 0) this.flush(`line ${s.getStartLineNumber()}, which computes other things around its ops`, 'side-effect');
      else this.flush(`line ${s.getStartLineNumber()}, which has no elementwise op`, 'single-op');
      for (const t of trees) this.single(t);
      return;
    }
    const decl = declOf(s);
    const tree: Tree = { root: mainTree.root, stmt: s, decl };
    const others = trees.filter((t) => t !== mainTree);
    if (!this.canJoin(tree, s)) this.flush(`line ${s.getStartLineNumber()}`, 'side-effect');
    for (const t of others) this.single(t);
    this.group.push(tree);
    if (decl === null || isReassigned(decl, this.fn)) this.flush('end');
  }

  /** A tree joins the open group when it reads a variable the group declares and nothing else in its statement does. */
  private canJoin(tree: Tree, s: Statement): boolean {
    if (this.group.length === 0) return false;
    if ((tree.root.use.module === true) !== (this.group[0].root.use.module === true)) return false;
    const vars = new Set(this.group.map((t) => t.decl?.symbol).filter((x) => x !== undefined));
    const fusedLeaves = new Set<Node>();
    collectLeaves(tree.root, fusedLeaves);
    let connected = false, otherUse = false;
    for (const leaf of fusedLeaves) {
      if (Node.isIdentifier(leaf) && vars.has(symbolOf(leaf)!)) connected = true;
    }
    s.forEachDescendant((d) => {
      if (!Node.isIdentifier(d) || fusedLeaves.has(d)) return;
      const sym = symbolOf(d);
      if (sym !== undefined && vars.has(sym)) otherUse = true;
    });
    if (!connected || otherUse) return false;
    // an intermediate used after this statement must become an extra output: only a declaration can bind several
    if (tree.decl === null) {
      const later = this.group.some((t) => t.decl !== null && usedOutside(t.decl, [...this.group, tree]));
      if (later) return false;
    }
    return true;
  }

  /** Close the open group: a chain when it holds two ops or more, else a left-alone candidate with why it stands alone. */
  private flush(why: string, reason = 'single-op'): void {
    const g = this.group;
    this.group = [];
    if (g.length === 0) return;
    const ops = g.reduce((n, t) => n + countOps(t.root), 0);
    if (ops >= 2) {
      this.out.chains.push({ trees: g, fn: this.fn, tagged: this.tagged });
      return;
    }
    const call = g[0].root.call;
    const msg = why === 'end'
      ? `${call.getText()} is one op with nothing to fuse with`
      : `${call.getText()} is one op; its chain stops at ${why}`;
    this.out.leftAlone.push({ node: call, reason: why === 'end' ? 'single-op' : reason, message: msg, tagged: this.tagged });
  }

  private single(t: Tree): void {
    if (countOps(t.root) >= 2) this.out.chains.push({ trees: [{ root: t.root, stmt: null, decl: null }], fn: this.fn, tagged: this.tagged });
    else this.out.leftAlone.push({ node: t.root.call, reason: 'single-op', message: `${t.root.call.getText()} is one op with nothing to fuse with`, tagged: this.tagged });
  }

  /** Trees of an expression that cannot join a group: each is a chain of its own. */
  private standalone(n: Node): void {
    for (const t of this.treesIn(n)) this.single(t);
  }

  private compoundChild(child: Node): void {
    if (Node.isBlock(child)) {
      new Region(this.fn, this.tagged, this.resolve, this.out).statements(child.getStatements());
    } else if (Node.isStatement(child) && !Node.isExpression(child)) {
      new Region(this.fn, this.tagged, this.resolve, this.out).statements([child]);
    } else if (Node.isCaseBlock(child)) {
      for (const clause of child.getClauses()) {
        for (const e of clause.getChildren()) if (Node.isExpression(e)) this.standalone(e);
        new Region(this.fn, this.tagged, this.resolve, this.out).statements(clause.getStatements());
      }
    } else if (Node.isCatchClause(child)) {
      new Region(this.fn, this.tagged, this.resolve, this.out).statements(child.getBlock().getStatements());
    } else if (Node.isExpression(child) || Node.isVariableDeclarationList(child)) {
      this.standalone(child);
    } else if (Node.isSyntaxList(child)) {
      for (const c of child.getChildren()) this.compoundChild(c);
    }
  }

  private hasAwaitOrYield(s: Node): boolean {
    let found = false;
    s.forEachDescendant((d, t) => {
      if (isFunctionLike(d)) return t.skip();
      if (Node.isAwaitExpression(d) || Node.isYieldExpression(d)) { found = true; return t.stop(); }
      return undefined;
    });
    return found;
  }

  /** The maximal trees of resolved op calls in `n` (not inside nested functions), and report what did not resolve. */
  private treesIn(n: Node): Tree[] {
    const calls: CallExpression[] = [];
    const visit = (d: Node) => {
      if (isFunctionLike(d)) return;
      if (Node.isCallExpression(d)) calls.push(d);
      d.forEachChild(visit);
    };
    if (isFunctionLike(n)) return [];
    visit(n);
    const ops = new Map<CallExpression, OpCall>();
    for (const c of calls) {
      const r = this.resolve(c);
      if (r === null) continue;
      if ('refusal' in r) {
        this.refused(c, r.refusal);
        continue;
      }
      ops.set(c, null as unknown as OpCall);
    }
    const build = (c: CallExpression): OpCall => {
      const r = this.resolve(c) as { use: OpUse };
      const operand = (node: Node): Operand => {
        const u = unparen(node);
        // graph ops and array-module functions never share a kernel: one makes Variables, the other NDArrays
        if (Node.isCallExpression(u) && ops.has(u) && familyOf(u) === familyOf(c)) return { kind: 'op', op: build(u) };
        return { kind: 'leaf', node };
      };
      const callee = c.getExpression();
      const usesReceiver = r.use.arrays.some((a) => a.from === 'receiver') || r.use.scalars.some((a) => a.from === 'receiver');
      const receiver = usesReceiver && Node.isPropertyAccessExpression(callee) ? operand(callee.getExpression()) : null;
      return { call: c, use: r.use, receiver, args: c.getArguments().map(operand) };
    };
    const familyOf = (c: CallExpression) => ((this.resolve(c) as { use: OpUse }).use.module === true ? 'module' : 'graph');
    const roots = [...ops.keys()].filter((c) => !isInner(c, ops, familyOf));
    return roots.map((c) => ({ root: build(c), stmt: null, decl: null }));
  }

  private refused(c: CallExpression, r: Refusal): void {
    this.out.leftAlone.push({ node: c, reason: r.reason, message: r.message, tagged: this.tagged });
  }
}

/** Whether `c` is an operand of another resolved op call (then it belongs to that call's tree). */
function isInner(c: CallExpression, ops: ReadonlyMap<CallExpression, unknown>, familyOf: (c: CallExpression) => string): boolean {
  let n: Node = c;
  let p = n.getParent();
  while (p !== undefined && Node.isParenthesizedExpression(p)) { n = p; p = p.getParent(); }
  if (p === undefined) return false;
  if (Node.isCallExpression(p) && ops.has(p) && p.getArguments().includes(n)) return familyOf(p) === familyOf(c);
  if (Node.isPropertyAccessExpression(p) && p.getExpression() === n) {
    const gp = p.getParent();
    if (Node.isCallExpression(gp) && gp.getExpression() === p && ops.has(gp)) return familyOf(gp) === familyOf(c);
  }
  return false;
}

function collectLeaves(op: OpCall, into: Set<Node>): void {
  for (const o of [op.receiver, ...op.args]) {
    if (o === null) continue;
    if (o.kind === 'op') collectLeaves(o.op, into);
    else into.add(unparen(o.node));
  }
}

export function countOps(op: OpCall): number {
  let n = 1;
  for (const o of [op.receiver, ...op.args]) if (o !== null && o.kind === 'op') n += countOps(o.op);
  return n;
}

export const symbolOf = (n: Node): MorphSymbol | undefined => n.getSymbol();

/** The expression a statement is: a single declaration's initializer, a return's value, an expression statement. */
function mainExpr(s: Statement): Node | null {
  if (Node.isVariableStatement(s)) {
    const ds = s.getDeclarations();
    if (ds.length !== 1) return null;
    const init = ds[0].getInitializer();
    return init === undefined ? null : unparen(init);
  }
  if (Node.isReturnStatement(s)) {
    const e = s.getExpression();
    return e === undefined ? null : unparen(e);
  }
  if (Node.isExpressionStatement(s)) return unparen(s.getExpression());
  return null;
}

function declOf(s: Statement): DeclInfo | null {
  if (!Node.isVariableStatement(s)) return null;
  const ds = s.getDeclarations();
  if (ds.length !== 1) return null;
  const d = ds[0];
  const nameNode = d.getNameNode();
  if (!Node.isIdentifier(nameNode)) return null;
  const sym = nameNode.getSymbol();
  if (sym === undefined) return null;
  if (s.hasExportKeyword() || s.hasDeclareKeyword()) return null;
  const kw = s.getDeclarationKind();
  return { name: nameNode.getText(), symbol: sym, keyword: kw as 'const' | 'let' | 'var', annotation: d.getTypeNode()?.getText() ?? null };
}

/** Every identifier in the function that refers to `decl`'s variable, but its declaration. */
export function referencesOf(decl: DeclInfo, scope: Node): Node[] {
  const refs: Node[] = [];
  scope.forEachDescendant((d) => {
    if (Node.isIdentifier(d) && d.getText() === decl.name && d.getSymbol() === decl.symbol) {
      const p = d.getParent();
      if (!(Node.isVariableDeclaration(p) && p.getNameNode() === d)) refs.push(d);
    }
  });
  return refs;
}

/** Whether a let/var is ever assigned after its declaration (then it is not a fixed intermediate). */
function isReassigned(decl: DeclInfo, fn: Node): boolean {
  if (decl.keyword === 'const') return false;
  if (decl.keyword === 'var') return true;
  return referencesOf(decl, fn).some((r) => {
    const p = r.getParent();
    if (Node.isBinaryExpression(p) && p.getLeft() === r && p.getOperatorToken().getText().endsWith('=') && !['==', '===', '!=', '!==', '<=', '>='].includes(p.getOperatorToken().getText())) return true;
    if ((Node.isPrefixUnaryExpression(p) || Node.isPostfixUnaryExpression(p)) && ['++', '--'].includes(p.getText().replace(/[^+-]/g, '').slice(0, 2))) return true;
    return false;
  });
}

/** Whether the variable is used anywhere but as a fused operand of `trees` (in the whole file). */
function usedOutside(decl: DeclInfo, trees: readonly Tree[]): boolean {
  const fused = new Set<Node>();
  for (const t of trees) collectLeaves(t.root, fused);
  const file = trees[0].root.call.getSourceFile();
  return referencesOf(decl, file).some((r) => !fused.has(r));
}

function isControlFlow(n: Node): boolean {
  return Node.isIfStatement(n) || Node.isForStatement(n) || Node.isForInStatement(n) || Node.isForOfStatement(n)
    || Node.isWhileStatement(n) || Node.isDoStatement(n) || Node.isSwitchStatement(n) || Node.isTryStatement(n)
    || Node.isLabeledStatement(n) || Node.isBlock(n) || Node.isThrowStatement(n) || Node.isWithStatement(n);
}

function describeBoundary(n: Node): string {
  switch (n.getKind()) {
    case SyntaxKind.IfStatement: return 'if';
    case SyntaxKind.ForStatement: case SyntaxKind.ForInStatement: case SyntaxKind.ForOfStatement: return 'for loop';
    case SyntaxKind.WhileStatement: case SyntaxKind.DoStatement: return 'while loop';
    case SyntaxKind.SwitchStatement: return 'switch';
    case SyntaxKind.TryStatement: return 'try';
    case SyntaxKind.AwaitExpression: return 'await';
    case SyntaxKind.YieldExpression: return 'yield';
    case SyntaxKind.ConditionalExpression: return 'a ?: branch';
    case SyntaxKind.ThrowStatement: return 'throw';
    default: return n.getKindName();
  }
}

export function fnName(fn: Node): string {
  if (Node.isMethodDeclaration(fn)) {
    const cls = fn.getParent();
    const c = Node.isClassDeclaration(cls) ? cls.getName() ?? '(class)' : '(class)';
    return `${c}.${fn.getName()}`;
  }
  if (Node.isFunctionDeclaration(fn)) return fn.getName() ?? '(function)';
  const p = fn.getParent();
  if (Node.isVariableDeclaration(p)) return p.getName();
  return '(function)';
}
