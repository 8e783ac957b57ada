// Expressions as JSON: round trips node for node, stable text across processes, clear errors for malformed data.

import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { constant, input, scalar, select } from '../../compiler/expr.js';
import { exprsFromJSON, exprsToJSON } from '../../compiler/serialize.js';
import { renderPolymorphic } from '../../compiler/wgsl.js';

const x = input(0), y = input(1);
const ROOTS = [
  select(x.gt(y), x.tanh().mul(scalar(0)), y.pow(2).div(x.sub(0.5))),
  x.add(constant(NaN)).max(constant(-Infinity)).min(constant(Infinity)).mul(constant(-0)),
  x.exp().log().sqrt().abs().sign().neg().add(y.le(1)).add(y.ge(1)).add(y.lt(1)).add(y.eq(1)).add(y.ne(1)),
];

test('a round trip gives back the very same nodes (interned), special literals included', (t) => {
  const back = exprsFromJSON(JSON.parse(JSON.stringify(exprsToJSON(ROOTS))));
  t.is(back.length, ROOTS.length);
  back.forEach((r, j) => t.is(r, ROOTS[j]));
  t.is(renderPolymorphic(back, 2, 'flat').name, renderPolymorphic(ROOTS, 2, 'flat').name);
});

test('the text does not depend on node ids: another process writes the same JSON', async (t) => {
  // built in a different order here first, so this process's ids differ from a fresh one's
  const text = JSON.stringify(exprsToJSON(ROOTS));
  const script = `
    import { input, scalar, constant, select } from './compiler/expr.ts';
    import { exprsToJSON } from './compiler/serialize.ts';
    const x = input(0), y = input(1);
    const ROOTS = [
      select(x.gt(y), x.tanh().mul(scalar(0)), y.pow(2).div(x.sub(0.5))),
      x.add(constant(NaN)).max(constant(-Infinity)).min(constant(Infinity)).mul(constant(-0)),
      x.exp().log().sqrt().abs().sign().neg().add(y.le(1)).add(y.ge(1)).add(y.lt(1)).add(y.eq(1)).add(y.ne(1)),
    ];
    process.stdout.write(JSON.stringify(exprsToJSON(ROOTS)));`;
  const { stdout } = await promisify(execFile)('npx', ['tsx', '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url).pathname });
  t.is(stdout, text);
});

test('bad input: malformed data is an error naming the node and what was expected', (t) => {
  const ok = exprsToJSON([x.add(y)]);
  const bad = (patch: object) => ({ ...ok, ...patch });
  t.throws(() => exprsFromJSON(null, 'kernel k'), { message: 'kernel k: expected a serialized expression object, got null' });
  t.throws(() => exprsFromJSON(bad({ version: 2 })), { message: 'exprsFromJSON: expected version 1, got 2' });
  t.throws(() => exprsFromJSON(bad({ format: 'x' })), { message: "exprsFromJSON: expected format 'kusari-expr', got \"x\"" });
  t.throws(() => exprsFromJSON(bad({ nodes: [['frob', 0]] })), { message: 'exprsFromJSON: node 0: unknown op "frob"' });
  t.throws(() => exprsFromJSON(bad({ nodes: [['input', 0], ['add', 0, 0]] })), { message: 'exprsFromJSON: node 1: add takes 2 arguments, got 1' });
  t.throws(() => exprsFromJSON(bad({ nodes: [['input', 0], ['neg', 0, 1]] })), { message: 'exprsFromJSON: node 1: argument 1 must index an earlier node (0..0)' });
  t.throws(() => exprsFromJSON(bad({ nodes: [['input', -1]] })), { message: 'exprsFromJSON: node 0: input index must be an integer in [0, 65536), got -1' });
  t.throws(() => exprsFromJSON(bad({ nodes: [['const', 'big']] })), { message: 'exprsFromJSON: node 0: expected a number value, got "big"' });
  t.throws(() => exprsFromJSON(bad({ roots: [7] })), { message: 'exprsFromJSON: root 0: 7 is not a node index (0..2)' });
});
