// Which calls are kusari's elementwise ops: the type checker finds the declaration, a probe through the op table finds the row.

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Node, type CallExpression, type Type } from 'ts-morph';
import type { Expr } from '../compiler/expr.js';
import { array } from '../runtime/array/xp.js';
import { Variable } from '../runtime/graph/variable.js';
import { ELEMENTWISE_OPS, TRACE, type ElementwiseDef } from '../runtime/ops/elementwise.js';
import { ElementwiseKernel } from '../runtime/kernels/elementwise-kernel.js';
import { MODULE_TRACE, arrayModule } from '../runtime/array/array-module.js';
import type { NDArray } from '../runtime/array/ndarray.js';
import * as F from '../runtime/ops/index.js';

/** Where one argument of the op comes from at the call site. */
export type ArgSource =
  | { readonly from: 'receiver' }
  | { readonly from: 'arg'; readonly index: number }
  /** a default the front filled in (softplus's beta = 1): passed as a literal scalar */
  | { readonly from: 'const'; readonly value: number };

/** A call resolved to one row of the op table, with how its arguments map onto the row's. */
export interface OpUse {
  readonly def: ElementwiseDef;
  /** the row's expression for this pattern: array arguments input(k), numbers scalar(m), in the row's order */
  readonly expr: Expr;
  /** the array arguments in the row's order, and their names (for the op's own error messages) */
  readonly arrays: readonly ArgSource[];
  readonly names: readonly string[];
  /** the number arguments in the row's order */
  readonly scalars: readonly ArgSource[];
  /** what the user called, for the report: `F.tanh`, `.mul` */
  readonly display: string;
  /** a user ElementwiseKernel's constructor strings (inParams, outParams, body, name): def is then a stand-in row */
  readonly kernel?: readonly [string, string, string, string];
  /** a getArrayModule function (NDArrays in, an NDArray out, no graph): def is then a stand-in row named as the function */
  readonly module?: boolean;
}

/** Why a call that looks like an op is not fused: a reason code and a sentence. */
export interface Refusal { readonly reason: string; readonly message: string }

/** The resolution of a call: an op, a refusal worth reporting, or null (not a candidate at all). */
export type Resolution = { readonly use: OpUse } | { readonly refusal: Refusal } | null;

/** The array/number pattern of a call site: 'v' an array (Variable or NDArray), 's' a number. */
export type Pattern = readonly ('v' | 's')[];

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** kusari's own sources (this checkout) and its built declarations (an installed package) */
const KUSARI_DIRS = [path.resolve(HERE, '../runtime') + path.sep, path.resolve(HERE, '../dist') + path.sep];

/** Whether a declaration lives in kusari (its sources, its dist, or node_modules/kusari). */
export function isKusariFile(filePath: string): boolean {
  const p = path.resolve(filePath);
  return KUSARI_DIRS.some((d) => p.startsWith(d)) || /[\\/]node_modules[\\/]kusari[\\/]/.test(p);
}

/** Whether `type` is kusari's class `name` or derives from it (Parameter is a Variable). */
export function isKusariClass(type: Type, names: ReadonlySet<string>, depth = 0): boolean {
  if (depth > 8) return false;
  const sym = type.getSymbol();
  if (sym !== undefined && names.has(sym.getName())) {
    if (sym.getDeclarations().some((d) => Node.isClassDeclaration(d) && isKusariFile(d.getSourceFile().getFilePath()))) return true;
  }
  return type.getBaseTypes().some((b) => isKusariClass(b, names, depth + 1));
}

const ARRAY_CLASSES = new Set(['Variable', 'NDArray']);

/** 'v', 's', or why the argument's type does not say which (any, a union such as VariableLike). */
export function kindOf(type: Type): 'v' | 's' | string {
  if (type.isAny() || type.isUnknown()) return `its type is ${type.getText()}`;
  if (type.isNumber() || type.isNumberLiteral() || (type.isEnumLiteral() && type.getLiteralValue() !== undefined && typeof type.getLiteralValue() === 'number')) return 's';
  if (type.isUnion()) return `its type ${type.getText(undefined, 4)} may be an array or a number; the transform needs one of Variable, NDArray or number`;
  if (isKusariClass(type, ARRAY_CLASSES)) return 'v';
  return `its type ${type.getText(undefined, 4)} is neither a kusari Variable, an NDArray nor a number`;
}

// ---- the probe: run the resolved function on placeholders with the op table's hook set ----

const dummy = (): Variable => new Variable(array([0], [1]));
/** distinct, exactly representable numbers that no op's default equals */
const sentinel = (i: number): number => 1 + (i + 1) / 1024;

const probes = new Map<string, OpUse | Refusal>();

/**
 * Call `call(receiver, args)` on placeholders with the op table's trace hook set, and read
 * off which row it applies and where each of the row's arguments came from. Anything other
 * than exactly one row applied to the call's own arguments (a front that reshapes, or runs
 * two ops) is refused: the transform fuses what the table says, nothing it guesses.
 */
function probe(key: string, display: string, pattern: Pattern, withReceiver: boolean, call: (recv: Variable | null, args: (Variable | number)[]) => unknown): OpUse | Refusal {
  const cached = probes.get(key);
  if (cached !== undefined) return cached;
  const recv = withReceiver ? dummy() : null;
  const args = pattern.map((k, i) => (k === 'v' ? dummy() : sentinel(i)));
  const seen: { def: ElementwiseDef; expr: Expr; arrays: unknown[]; names: string[]; scalars: number[]; out: Variable }[] = [];
  const saved = TRACE.hook;
  let result: unknown;
  let out: OpUse | Refusal;
  TRACE.hook = (def, expr, arrays, names, scalars) => {
    const y = dummy();
    seen.push({ def, expr, arrays, names, scalars, out: y });
    return y;
  };
  try {
    result = call(recv, args);
  } catch (e) {
    result = e;
  } finally {
    TRACE.hook = saved;
  }
  if (seen.length !== 1 || result !== seen[0].out) {
    out = result instanceof Error && seen.length === 0
      ? { reason: 'not-elementwise', message: `${display} is not one elementwise op of kusari's table for these argument types (${result.message})` }
      : { reason: 'not-elementwise', message: `${display} is not exactly one elementwise op of kusari's table (it applies ${seen.length} and returns ${seen.length === 1 && result === seen[0].out ? 'it' : 'something else'})` };
  } else {
    const s = seen[0];
    const source = (x: unknown): ArgSource | null => {
      if (x === recv && recv !== null) return { from: 'receiver' };
      const i = args.indexOf(x as Variable | number);
      return i >= 0 ? { from: 'arg', index: i } : null;
    };
    const arrays = s.arrays.map(source);
    const scalars = s.scalars.map((v) => source(v) ?? { from: 'const' as const, value: v });
    if (arrays.some((a) => a === null)) {
      out = { reason: 'not-elementwise', message: `${display} transforms an argument before its op (${s.def.name}) applies, so it is not one row of the table` };
    } else {
      out = { def: s.def, expr: s.expr, arrays: arrays as ArgSource[], names: s.names, scalars, display };
    }
  }
  probes.set(key, out);
  return out;
}

const isUse = (x: OpUse | Refusal): x is OpUse => 'def' in x;

/** Names that make a call a candidate worth a line in the report even when it does not resolve. */
export function looksLikeOp(name: string): boolean {
  return ELEMENTWISE_OPS.has(name) || METHOD_NAMES.has(name);
}
const METHOD_NAMES = new Set<string>();

/**
 * Resolve a call through the type checker: a function or method declared by kusari whose
 * probe applies one row of the op table, with every argument typed as an array or a number.
 */
export function resolveCall(call: CallExpression): Resolution {
  const callee = call.getExpression();
  let nameNode: Node;
  let receiver: Node | null = null;
  if (Node.isPropertyAccessExpression(callee)) {
    if (callee.hasQuestionDotToken()) return null;
    nameNode = callee.getNameNode();
    receiver = callee.getExpression();
  } else if (Node.isIdentifier(callee)) {
    nameNode = callee;
  } else {
    return null;
  }
  if (call.getTypeArguments().length > 0 || call.hasQuestionDotToken()) return null;
  const name = nameNode.getText();
  let sym = nameNode.getSymbol();
  // the name kusari exports it under: `F.tanh`'s property, or an import's original name (`tanh as th`)
  let exported = name;
  const spec = sym?.getDeclarations()[0];
  if (spec !== undefined && Node.isImportSpecifier(spec)) exported = spec.getName();
  if (sym !== undefined && sym.isAlias()) sym = sym.getAliasedSymbol() ?? sym;
  const decls = sym?.getDeclarations() ?? [];
  const candidate = looksLikeOp(name);
  if (sym === undefined || decls.length === 0) {
    if (!candidate) return null;
    const why = receiver !== null && receiver.getType().isAny() ? `its receiver ${receiver.getText()} is typed any` : `the checker cannot resolve ${callee.getText()}`;
    return { refusal: { reason: 'unresolved-type', message: `${call.getText()}: ${why}, so it is not known to be kusari's ${name}` } };
  }
  const decl = decls[0];
  const file = decl.getSourceFile().getFilePath();
  if (name === 'call' && receiver !== null && isMethodOf(decl, 'ElementwiseKernel')) return resolveKernelCall(call, receiver);
  if (receiver !== null && isMethodOf(decl, 'ArrayModule')) return resolveModuleCall(call, name, candidate);
  if (!isKusariFile(file)) {
    if (!candidate) return null;
    const where = `${path.basename(file)}:${decl.getStartLineNumber()}`;
    return { refusal: { reason: 'not-elementwise', message: `${callee.getText()} resolves to ${where}, not to kusari's op ${name}` } };
  }
  const method = receiver !== null && isMethodOfVariable(decl);
  // a bundled declaration file may rename the declaration (tanh$1): the exported name is the key then
  const table = F as unknown as Record<string, unknown>;
  const declName = typeof table[sym.getName()] === 'function' ? sym.getName() : exported;
  const value = table[declName];
  // a function must be a row of the op table (its value and its type carry `def`)
  if (!method && (typeof value !== 'function' || !('def' in value) || callee.getType().getProperty('def') === undefined)) return null;
  if (method && typeof (Variable.prototype as unknown as Record<string, unknown>)[name] !== 'function') return null;
  // the pattern of the call's own arguments: each must be typed an array or a number
  const args = call.getArguments();
  const pattern: ('v' | 's')[] = [];
  for (const [i, a] of args.entries()) {
    if (Node.isSpreadElement(a)) return candidate ? { refusal: { reason: 'unresolved-type', message: `${call.getText()}: a spread argument hides the arity` } } : null;
    const k = kindOf(a.getType());
    if (k !== 'v' && k !== 's') return candidate ? { refusal: { reason: 'unresolved-type', message: `${call.getText()}: argument ${i + 1} (${a.getText()}): ${k}` } } : null;
    pattern.push(k);
  }
  let result: OpUse | Refusal;
  if (method) {
    const k = kindOf(receiver!.getType());
    if (k !== 'v') return candidate ? { refusal: { reason: 'unresolved-type', message: `${call.getText()}: the receiver ${receiver!.getText()}: ${k === 's' ? 'it is a number' : k}` } } : null;
    const fn = (Variable.prototype as unknown as Record<string, unknown>)[name];
    if (typeof fn !== 'function') return null;
    result = probe(`method:${name}:${pattern.join('')}`, `.${name}`, pattern, true, (r, a) => (fn as (...x: unknown[]) => unknown).apply(r, a));
    if (isUse(result)) METHOD_NAMES.add(name);
  } else {
    // a function exported by kusari's ops (F.tanh, or tanh imported by name): its type must carry the table row
    result = probe(`fn:${declName}:${pattern.join('')}`, receiver !== null ? `${receiver.getText()}.${name}` : name, pattern, false, (_, a) => (value as unknown as (...x: unknown[]) => unknown)(...a));
  }
  if (!isUse(result)) return candidate ? { refusal: { reason: result.reason, message: `${call.getText()}: ${result.message}` } } : null;
  if (result.arrays.length === 0) return null;
  return { use: result };
}

/** A method declared on kusari's Variable (the class, or the op methods' interface augmentation). */
function isMethodOfVariable(decl: Node): boolean {
  return isMethodOf(decl, 'Variable');
}

function isMethodOf(decl: Node, cls: string): boolean {
  const parent = decl.getParent();
  if (parent === undefined) return false;
  if (!(Node.isClassDeclaration(parent) || Node.isInterfaceDeclaration(parent))) return false;
  return parent.getName() === cls && isKusariFile(parent.getSourceFile().getFilePath());
}

/**
 * `xp.add(a, b)` where xp is kusari's ArrayModule (getArrayModule): the function is probed on
 * the CPU module with the module's hook set, which reports the expression it applies. Only
 * functions that apply one expression to their own operands join (mean, which reduces
 * first, does not).
 */
function resolveModuleCall(call: CallExpression, name: string, candidate: boolean): Resolution {
  const fn = (arrayModule('cpu') as unknown as Record<string, unknown>)[name];
  if (typeof fn !== 'function') return null;
  const args = call.getArguments();
  const pattern: ('v' | 's')[] = [];
  for (const [i, a] of args.entries()) {
    const kind = kindOf(a.getType());
    if (kind !== 'v' && kind !== 's') return candidate ? { refusal: { reason: 'unresolved-type', message: `${call.getText()}: argument ${i + 1} (${a.getText()}): ${kind}` } } : null;
    pattern.push(kind);
  }
  const key = `module:${name}:${pattern.join('')}`;
  let use = probes.get(key);
  if (use === undefined) {
    const operands = pattern.map((p, i) => (p === 'v' ? array([0], [1]) : sentinel(i)));
    const seen: { op: string; expr: Expr; arrays: NDArray[]; scalars: number[]; out: NDArray }[] = [];
    const saved = MODULE_TRACE.hook;
    let result: unknown;
    MODULE_TRACE.hook = (op, expr, arrays, scalars) => {
      const out = array([0], [1]);
      seen.push({ op, expr, arrays, scalars, out });
      return out;
    };
    try {
      result = (fn as (...a: unknown[]) => unknown)(...operands);
    } catch (e) {
      result = e;
    } finally {
      MODULE_TRACE.hook = saved;
    }
    const s = seen[0];
    const arrays = s === undefined ? [] : s.arrays.map((a) => operands.indexOf(a));
    const scalars = s === undefined ? [] : s.scalars.map((v) => operands.indexOf(v));
    if (seen.length !== 1 || result !== s.out || arrays.some((k) => k < 0) || scalars.some((k) => k < 0)) {
      use = { reason: 'not-elementwise', message: `xp.${name} is not one elementwise expression of its own operands` };
    } else {
      const argNames = pattern.map((_, i) => `a${i}`);
      const def: ElementwiseDef = { name: s.op, args: argNames, build: () => s.expr };
      use = {
        def, expr: s.expr, module: true, display: `xp.${name}`,
        arrays: arrays.map((index) => ({ from: 'arg' as const, index })), names: arrays.map((k) => argNames[k]),
        scalars: scalars.map((index) => ({ from: 'arg' as const, index })),
      };
    }
    probes.set(key, use);
  }
  if (!isUse(use)) return candidate ? { refusal: { reason: use.reason, message: `${call.getText()}: ${use.message}` } } : null;
  return { use };
}

const kernels = new Map<string, ElementwiseKernel | Error>();

/**
 * `k.call(...)` where k is a module-level const `new ElementwiseKernel(...)` of literal strings
 * with one output: the kernel is built here, from the same strings, and its expression for
 * this call's pattern joins the chain like a row of the table. Anything else about k (a
 * kernel made at run time, from computed strings, or reassigned) is left alone.
 */
function resolveKernelCall(call: CallExpression, receiver: Node): Resolution {
  const refuse = (message: string): Resolution => ({ refusal: { reason: 'not-elementwise', message: `${call.getText()}: ${message}` } });
  if (!Node.isIdentifier(receiver)) return refuse('the kernel is not a module-level constant');
  const decl = receiver.getSymbol()?.getDeclarations()[0];
  const stmt = decl?.getParent()?.getParent();
  if (!Node.isVariableDeclaration(decl) || !Node.isVariableStatement(stmt) || !Node.isSourceFile(stmt.getParent()) || stmt.getDeclarationKind() !== 'const') {
    return refuse(`the kernel ${receiver.getText()} is not a module-level const`);
  }
  const init = decl.getInitializer();
  const ctor = Node.isNewExpression(init) ? init.getExpression() : undefined;
  let ctorSym = ctor?.getSymbol();
  if (ctorSym !== undefined && ctorSym.isAlias()) ctorSym = ctorSym.getAliasedSymbol() ?? ctorSym;
  const ctorDecl = ctorSym?.getDeclarations()[0];
  if (!Node.isNewExpression(init) || ctorDecl === undefined || !Node.isClassDeclaration(ctorDecl) || ctorDecl.getName() !== 'ElementwiseKernel' || !isKusariFile(ctorDecl.getSourceFile().getFilePath())) {
    return refuse(`${receiver.getText()} is not made by new ElementwiseKernel(...) where it is declared`);
  }
  const strings = init.getArguments().map((a) => (Node.isStringLiteral(a) || Node.isNoSubstitutionTemplateLiteral(a) ? a.getLiteralValue() : null));
  if (strings.length < 3 || strings.length > 4 || strings.some((x) => x === null)) {
    return refuse(`the kernel ${receiver.getText()} is not made from literal strings, so the build cannot know its body`);
  }
  const ks = [strings[0]!, strings[1]!, strings[2]!, strings[3] ?? 'kernel'] as const;
  const key = JSON.stringify(ks);
  let k = kernels.get(key);
  if (k === undefined) {
    try {
      k = new ElementwiseKernel(...ks);
    } catch (e) {
      k = e as Error;
    }
    kernels.set(key, k);
  }
  if (k instanceof Error) return refuse(`the kernel does not build: ${k.message}`);
  if (k.outParams.length !== 1) return refuse(`the kernel has ${k.outParams.length} outputs; only one-output kernels called with call() join a chain`);
  if (!isKusariClass(call.getType(), new Set(['Variable']))) return refuse('the call returns an NDArray (no Variable argument), outside the graph');
  const args = call.getArguments();
  if (args.length !== k.inParams.length) return refuse(`the kernel takes ${k.inParams.length} argument(s), the call passes ${args.length}`);
  const pattern: ('v' | 's')[] = [];
  for (const [i, a] of args.entries()) {
    const kind = kindOf(a.getType());
    if (kind !== 'v' && kind !== 's') return { refusal: { reason: 'unresolved-type', message: `${call.getText()}: argument ${i + 1} (${a.getText()}): ${kind}` } };
    pattern.push(kind);
  }
  const expr = (k as unknown as { rootsFor(p: string): Expr[] }).rootsFor(pattern.join(''))[0];
  const arrays: ArgSource[] = [], scalars: ArgSource[] = [], names: string[] = [];
  pattern.forEach((p, i) => {
    if (p === 'v') {
      arrays.push({ from: 'arg', index: i });
      names.push(k.inParams[i].name);
    } else scalars.push({ from: 'arg', index: i });
  });
  if (arrays.length === 0) return null;
  // a stand-in row: the kernel's name and parameter names, for the steps apply() checks
  const def: ElementwiseDef = { name: ks[3], args: k.inParams.map((p) => p.name), build: () => expr };
  return { use: { def, expr, arrays, names, scalars, display: `${receiver.getText()}.call`, kernel: ks } };
}
