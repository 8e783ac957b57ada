// A fused chain throws what the unfused code throws (same op, same argument, same message), and the stack maps back to the chain's line.

import test from 'ava';
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';
import { array } from '../../runtime/array/xp.js';
import { Variable } from '../../runtime/graph/variable.js';
import '../../runtime/index.js';
import { on, uniform, useDevices } from '../helpers.js';
import { RUNTIME, load, transform } from './helpers.js';

const SOURCE = `import { F, Variable } from ${JSON.stringify(RUNTIME)};

/** @fuse */
export function shapes(x: Variable, a: Variable, b: Variable) {
  return x.mul(a).add(b).tanh();
}

/** @fuse */
export function middle(x: Variable, a: Variable) {
  const h = F.tanh(x.mul(2));
  return h.mul(a).exp();
}

/** @fuse */
export function beta(x: Variable, k: number) {
  return F.softplus(x.mul(2), k).add(1);
}

/** @fuse */
export function clipped(x: Variable, lo: number, hi: number) {
  return F.clip(x.mul(2), lo, hi).exp();
}

/** @fuse */
export function mixed(x: Variable, y: Variable) {
  return x.add(y).exp().mul(y);
}
`;

type Fns = Record<'shapes' | 'middle' | 'beta' | 'clipped' | 'mixed', (...a: never[]) => Variable>;
const out = transform('test/transforms/errors-source.ts', SOURCE, { runtimeImport: RUNTIME });
const plain = await load<Fns>(SOURCE);
const built = await load<Fns>(out.code);
// declared after the modules load: ava wants every test declared without an await in between
const devices = await useDevices(test);

/** The message both throw, asserting they are identical; and the built one's error. */
function same(t: import('ava').ExecutionContext, call: (f: Fns) => unknown): Error {
  const e1 = t.throws(() => call(plain))!;
  const e2 = t.throws(() => call(built))!;
  t.is(e2.message, e1.message);
  return e2;
}

test('errors: every function here was fused', (t) => {
  t.is(out.report.chains.length, 5);
  t.deepEqual(out.report.leftAlone, []);
});

devices.each('errors: a bad shape anywhere in a chain names the op and its arguments, as unfused', (t, device) => {
  const x = on(device, uniform([2, 3], 1)), a = on(device, uniform([2, 3], 2));
  const bad = on(device, uniform([4], 3));
  const e = same(t, (f) => f.shapes(x as never, a as never, bad as never));
  t.regex(e.message, /^add: /);
  same(t, (f) => f.shapes(x as never, bad as never, a as never)); // the first op's
  const m = same(t, (f) => f.middle(x as never, bad as never)); // past an intermediate
  t.regex(m.message, /^mul: /);
});

devices.each('errors: an op\'s own number checks run, with its message', (t, device) => {
  const x = on(device, uniform([2, 3], 1));
  t.regex(same(t, (f) => (f.beta as (x: Variable, k: number) => Variable)(x, 0)).message, /^softplus: /);
  t.regex(same(t, (f) => (f.beta as (x: Variable, k: number) => Variable)(x, NaN)).message, /^softplus: /);
  t.regex(same(t, (f) => (f.clipped as (x: Variable, lo: number, hi: number) => Variable)(x, 1, -1)).message, /^clip: xMin \(1\) must not exceed xMax \(-1\)/);
});

devices.each('errors: float dtypes that mix (cpu), and arrays on two devices (webgpu), fail as unfused', (t, device) => {
  const x = on(device, uniform([3], 1));
  if (device === 'cpu') {
    // WebGPU has no float64 to mix with
    const y64 = new Variable(array([1, 2, 3], [3], 'float64'));
    t.regex(same(t, (f) => f.mixed(x as never, y64 as never)).message, /^add: inputs mix float dtypes/);
  } else {
    const cpu = on('cpu', uniform([3], 2));
    t.regex(same(t, (f) => f.mixed(x as never, cpu as never)).message, /^add: inputs are on different devices/);
  }
});

test('errors: the stack of a fused chain\'s error maps, through the source map, to the chain\'s line', (t) => {
  const x = on('cpu', uniform([2, 3], 1)), bad = on('cpu', uniform([4], 3));
  const e = t.throws(() => built.middle(x as never, bad as never))!;
  // the first frame in the generated module: file:line:column
  const frame = e.stack!.split('\n').find((l) => /m\d+\.mts:\d+:\d+/.test(l))!;
  const [, line, column] = /:(\d+):(\d+)\)?$/.exec(frame)!;
  const pos = originalPositionFor(new TraceMap(out.map as never), { line: Number(line), column: Number(column) - 1 });
  // middle's chain ends at its return, line 11 of SOURCE
  t.is(pos.line, 11, frame);
  t.is(SOURCE.split('\n')[pos.line! - 1].trim(), 'return h.mul(a).exp();');
});
