// The kernel-body language: precedence, associativity, literals, functions, and where errors point.

import test from 'ava';
import { constant, evaluate, input, select, type Expr } from '../../compiler/expr.js';
import { lower, parseExpression, parseStatements } from '../../runtime/kernels/expression.js';
import { ElementwiseKernel, ReductionKernel } from '../../runtime/kernels/index.js';

const NAMES = ['x', 'y', 'z'];

/** The IR of `text` with x, y, z as input(0..2). */
function ir(text: string): Expr {
  const src = { kernel: 'test', text };
  return lower(src, parseExpression(src), (n) => (NAMES.includes(n) ? input(NAMES.indexOf(n)) : undefined), (n) => [`unknown identifier '${n}'`]);
}
const ev = (text: string, x = 0, y = 0, z = 0) => evaluate(ir(text), [x, y, z]);

/** The first line of the error that `fn` throws (the rest is the source and a caret). */
function firstLine(t: import('ava').ExecutionContext, fn: () => unknown): string {
  const err = t.throws(fn);
  return err?.message.split('\n')[0] ?? '';
}

test('binary precedence: * / over + -, ** over both, comparisons below arithmetic', (t) => {
  t.is(ev('1 + 2 * 3'), 7);
  t.is(ev('(1 + 2) * 3'), 9);
  t.is(ev('10 - 4 / 2'), 8);
  t.is(ev('2 * 3 ** 2'), 18);
  t.is(ev('1 + 2 < 4'), 1);
  t.is(ev('1 + 2 < 3'), 0);
  t.is(ev('2 * 3 == 6'), 1);
  t.is(ev('2 * 3 != 6'), 0);
  t.is(ev('x >= y', 2, 2), 1);
  t.is(ev('x <= y', 3, 2), 0);
  t.is(ev('x > y', 3, 2), 1);
});

test('associativity: - and / to the left, ** and ?: to the right', (t) => {
  t.is(ev('8 - 3 - 2'), 3);
  t.is(ev('16 / 4 / 2'), 2);
  t.is(ev('2 ** 3 ** 2'), 512);
  // x > 0 ? 1 : (x < 0 ? -1 : 0)
  const signOf = (v: number) => ev('x > 0 ? 1 : x < 0 ? -1 : 0', v);
  t.deepEqual([signOf(3), signOf(-2), signOf(0)], [1, -1, 0]);
  t.is(ir('x ? y : z ? 1 : 2'), select(input(0), input(1), select(input(2), 1, 2)));
});

test('unary minus: looser than **, tighter than *; ** takes a signed exponent', (t) => {
  t.is(ev('-2 ** 2'), -4);
  t.is(ev('2 ** -1'), 0.5);
  t.is(ev('-x * y', 2, 3), -6);
  t.is(ev('--x', 5), 5);
  t.is(ev('+x - -y', 1, 2), 3);
  t.is(ev('2 * -x', 3), -6);
});

test('the ternary binds loosest: its branches take whole expressions', (t) => {
  t.is(ev('1 ? 2 : 3 + 4'), 2);
  t.is(ev('0 ? 2 : 3 + 4'), 7);
  t.is(ev('x + 1 > 2 ? 10 : 20', 2), 10);
  t.is(ev('(x ? 2 : 3) + 4', 1), 6);
});

test('number literals: integers, decimals, exponents, C float suffixes', (t) => {
  t.is(ev('1.5e2'), 150);
  t.is(ev('.5'), 0.5);
  t.is(ev('2.'), 2);
  t.is(ev('1.0f + 2E-1'), 1.2);
  t.is(ev('inf'), Infinity);
  t.is(ev('-inf'), -Infinity);
  t.true(Number.isNaN(ev('nan')));
  t.is(ev('pi'), Math.PI);
});

test('functions: the primitives and the composed conveniences', (t) => {
  t.is(ev('exp(0) + log(1) + sqrt(9) + abs(-2) + sign(-5) + tanh(0)'), 1 + 0 + 3 + 2 - 1 + 0);
  t.is(ev('max(x, y) - min(x, y)', 2, 7), 5);
  t.is(ev('pow(x, 3)', 2), 8);
  t.is(ev('sigmoid(0)'), 0.5);
  t.deepEqual([ev('relu(x)', -2), ev('relu(x)', 3)], [0, 3]);
  t.is(ev('square(x)', -3), 9);
  t.is(ev('rsqrt(x)', 4), 0.5);
  t.is(ev('where(x > 1, 10, 20)', 2), 10);
  t.deepEqual([ev('clip(x, -1, 1)', -5), ev('clip(x, -1, 1)', 0.5), ev('clip(x, -1, 1)', 5)], [-1, 0.5, 1]);
  t.true(Math.abs(ev('softplus(x)', 0.3) - Math.log1p(Math.exp(0.3))) < 1e-15);
  t.is(ev('softplus(x)', 1000), 1000); // the naive log(1 + exp(x)) would be inf
});

test('lowering builds the same hash-consed IR as writing it by hand', (t) => {
  const x = input(0), y = input(1);
  t.is(ir('(x - y) * (x - y)'), x.sub(y).mul(x.sub(y)));
  t.is(ir('x ** 2'), x.mul(x)); // squared by a multiply: exact on every backend
  t.is(ir('x ** 0.5'), x.sqrt());
  t.is(ir('x ** y'), x.pow(y));
  t.is(ir('2 * 3 + x'), constant(6).add(x));
  t.is(ir('x > y ? x : y'), select(x.gt(y), x, y));
});

test('statements: assignments separated by ;, empty statements allowed, targets recorded', (t) => {
  const src = { kernel: 'test', text: 'a = x + 1;; b = a * 2;' };
  const stmts = parseStatements(src);
  t.deepEqual(stmts.map((s) => [s.target, s.pos]), [['a', 0], ['b', 12]]);
  t.throws(() => parseStatements({ kernel: 'test', text: ' ; ' }), { message: /^test: empty body at column 1/ });
});

// ---- errors: what went wrong, the column, the offending token, the text --------------------

const kernel = (body: string) => () => new ElementwiseKernel('float32 x, float32 y', 'float32 z', body, 'squared_diff');

test('a stray token is named with its column and the body', (t) => {
  t.is(firstLine(t, kernel('z = (x - y))')), `ElementwiseKernel squared_diff: unexpected ')' at column 12 in "z = (x - y))"`);
  t.is(firstLine(t, kernel('z = x * * y')), `ElementwiseKernel squared_diff: unexpected '*' at column 9 in "z = x * * y"`);
  t.is(firstLine(t, kernel('z = x +')), `ElementwiseKernel squared_diff: unexpected end of input at column 8 in "z = x +"`);
  t.is(firstLine(t, kernel('z = (x + y')),
    `ElementwiseKernel squared_diff: expected ')', got end of input at column 11 in "z = (x + y"; to close the '(' at column 5`);
  t.is(firstLine(t, kernel('z = x ? y')),
    `ElementwiseKernel squared_diff: expected ':', got end of input at column 10 in "z = x ? y"; the '?' at column 7 needs one`);
});

test('the message ends with the line and a caret under the column', (t) => {
  const err = t.throws(kernel('z = (x - y))'))!;
  t.deepEqual(err.message.split('\n').slice(1), ['  z = (x - y))', '             ^']);
});

test('a multi-line body is located by line and column', (t) => {
  const err = t.throws(kernel('t = x - y;\nz = t *\n  )'))!;
  t.is(err.message.split('\n')[0], `ElementwiseKernel squared_diff: unexpected ')' at line 3, column 3 in "t = x - y;\\nz = t *\\n  )"`);
  t.is(firstLine(t, kernel('z = x\nw = y')), `ElementwiseKernel squared_diff: unexpected 'w' at line 2, column 1 in "z = x\\nw = y"; statements are separated by ';'`);
});

test('unknown identifiers and functions are named, with what is known', (t) => {
  t.is(firstLine(t, kernel('z = x + w')), `ElementwiseKernel squared_diff: unknown identifier 'w' at column 9 in "z = x + w"; the inputs are x, y`);
  t.regex(firstLine(t, kernel('z = expp(x)')), /^ElementwiseKernel squared_diff: unknown function 'expp' at column 5 in "z = expp\(x\)"; the functions are exp, log, sqrt/);
  t.is(firstLine(t, kernel('z = max(x)')), `ElementwiseKernel squared_diff: max takes 2 arguments, got 1 at column 5 in "z = max(x)"`);
  // names are looked up as own properties: Object.prototype's are unknown like any other
  t.is(firstLine(t, kernel('z = constructor')), `ElementwiseKernel squared_diff: unknown identifier 'constructor' at column 5 in "z = constructor"; the inputs are x, y`);
  t.regex(firstLine(t, kernel('z = toString(x)')), /^ElementwiseKernel squared_diff: unknown function 'toString' at column 5/);
  t.is(firstLine(t, kernel('z = exp + x')), `ElementwiseKernel squared_diff: 'exp' is a function at column 5 in "z = exp + x"; call it: exp(...)`);
});

test('malformed numbers, unsupported operators and chained comparisons are refused where they are', (t) => {
  t.is(firstLine(t, kernel('z = 2x')), `ElementwiseKernel squared_diff: malformed number '2x' at column 5 in "z = 2x"`);
  t.is(firstLine(t, kernel('z = x % y')), `ElementwiseKernel squared_diff: '%' is not supported at column 7 in "z = x % y"; the IR has no remainder`);
  t.is(firstLine(t, kernel('z = x && y')), `ElementwiseKernel squared_diff: '&&' is not supported at column 7 in "z = x && y"; multiply two comparisons instead, (a > 0) * (b > 0)`);
  t.is(firstLine(t, kernel('z += x')), `ElementwiseKernel squared_diff: '+=' is not supported at column 3 in "z += x"; write z = z + ...`);
  t.is(firstLine(t, kernel('z = x @ y')), `ElementwiseKernel squared_diff: unexpected character '@' at column 7 in "z = x @ y"`);
  t.regex(firstLine(t, kernel('z = x < y < 1')), /^ElementwiseKernel squared_diff: chained comparison '<' at column 11 in "z = x < y < 1"; add parentheses/);
  t.is(ev('(x < y) < 1', 1, 2), 0); // with parentheses it is fine
});

test('statement errors: a bare expression, a typed declaration, assigning an input, reading early', (t) => {
  t.is(firstLine(t, kernel('(x - y) * (x - y)')),
    `ElementwiseKernel squared_diff: expected an assignment, got '(' at column 1 in "(x - y) * (x - y)"; a statement is 'name = expression'`);
  t.is(firstLine(t, kernel('float t = x; z = t')),
    `ElementwiseKernel squared_diff: unexpected type 'float' at column 1 in "float t = x; z = t"; a temporary needs no declaration: write 't = ...'`);
  t.is(firstLine(t, kernel('x = y; z = x')), `ElementwiseKernel squared_diff: cannot assign to input parameter 'x' at column 1 in "x = y; z = x"`);
  t.is(firstLine(t, kernel('z = t; t = x')), `ElementwiseKernel squared_diff: 't' is read before it is assigned at column 5 in "z = t; t = x"`);
  t.is(firstLine(t, kernel('t = x')), 'ElementwiseKernel squared_diff: output z never assigned in "t = x"');
  t.is(firstLine(t, kernel('')), 'ElementwiseKernel squared_diff: empty body at column 1 in ""');
});

test('parameter list errors name the list, the column and the word', (t) => {
  const params = (ins: string, outs = 'float32 z') => () => new ElementwiseKernel(ins, outs, 'z = x', 'k');
  t.regex(firstLine(t, params('float32 x, flot32 y')),
    /^ElementwiseKernel k: unknown type 'flot32' at column 12 in inParams "float32 x, flot32 y"; the types are float32, float64, int32/);
  t.regex(firstLine(t, params('int64 x')), /^ElementwiseKernel k: type 'int64' is not supported at column 1 in inParams "int64 x"/);
  t.is(firstLine(t, params('float32 x, y')), `ElementwiseKernel k: parameter 'y' has no type at column 12 in inParams "float32 x, y"; write it as 'float32 y' or 'T y'`);
  t.is(firstLine(t, params('float32 x, float32 x')), `ElementwiseKernel k: parameter 'x' is declared twice at column 20 in inParams "float32 x, float32 x"`);
  t.is(firstLine(t, params('raw T x')), `ElementwiseKernel k: raw parameters are not supported at column 1 in inParams "raw T x"; a kernel sees one element of each array`);
  t.is(firstLine(t, params('float32 x', 'float32')), `ElementwiseKernel k: parameter of type float32 has no name at column 1 in outParams "float32"`);
  t.is(firstLine(t, params('float32 x', 'U z')), 'ElementwiseKernel k: output z has type U, which no input parameter has');
  t.is(firstLine(t, params('float32 x', 'float32 x')), `ElementwiseKernel k: 'x' is both an input and an output parameter`);
  t.regex(firstLine(t, params('')), /^ElementwiseKernel k: inParams is empty/);
});

test('reduction kernels locate errors in the part they are in', (t) => {
  const red = (map: string, reduce: string, post: string, identity: string | null = '0') => () =>
    new ReductionKernel('T x', 'T y', map, reduce, post, identity, 'l2norm');
  t.is(firstLine(t, red('x * x)', 'a + b', 'y = sqrt(a)')), `ReductionKernel l2norm: unexpected ')' at column 6 in map "x * x)"`);
  t.is(firstLine(t, red('x * w', 'a + b', 'y = sqrt(a)')), `ReductionKernel l2norm: unknown identifier 'w' at column 5 in map "x * w"; the inputs are x`);
  t.is(firstLine(t, red('x * x', 'a + c', 'y = sqrt(a)')),
    `ReductionKernel l2norm: unknown identifier 'c' at column 5 in reduce "a + c"; the reduce expression combines a and b only`);
  t.is(firstLine(t, red('x * x', 'a * b', 'y = sqrt(a)')),
    'ReductionKernel l2norm: reduce expression "a * b" is not supported: the backends reduce with a + b (sum), max(a, b) or min(a, b)');
  t.is(firstLine(t, red('x * x', 'a + b', 'y = sqrt(b)')), `ReductionKernel l2norm: unknown identifier 'b' at column 10 in post-map "y = sqrt(b)"; the reduced value is a`);
  t.is(firstLine(t, red('x * x', 'a + b', 'sqrt(a) + 1; y = 2')),
    `ReductionKernel l2norm: unexpected 'y' at column 14 in post-map "sqrt(a) + 1; y = 2"; an expression without an assignment must stand alone`);
  t.is(firstLine(t, red('x * x', 'a + b', 'x = sqrt(a)')), `ReductionKernel l2norm: cannot assign to 'x' at column 1 in post-map "x = sqrt(a)"; the post-map assigns the output y`);
  t.is(firstLine(t, red('x * x', 'a + b', 't = sqrt(a)')), 'ReductionKernel l2norm: the post-map never assigns the output y in "t = sqrt(a)"');
  t.is(firstLine(t, red('x * x', 'a + b', 'y = sqrt(a)', 'zero')),
    `ReductionKernel l2norm: unknown identifier 'zero' at column 1 in identity "zero"; the identity is a number such as 0 or -inf`);
  t.is(firstLine(t, () => new ReductionKernel('T a', 'T y', 'a', 'a + b', '', '0', 'r')),
    `ReductionKernel r: parameter name 'a' is reserved for the reduce expression's operands a and b`);
  t.is(firstLine(t, () => new ReductionKernel('T x', 'T y, T w', 'x', 'a + b', '', '0', 'r')), 'ReductionKernel r: a reduction has one output, got 2 in "T y, T w"');
});
