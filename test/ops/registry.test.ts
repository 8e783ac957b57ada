// Meta-test: every differentiable export of F has a gradient check and a cross-device check in test/ops, and the checks can fail.

import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FunctionNode, NDArray, Variable, array, checkBackward, F } from '../../runtime/index.js';
import { checkOpBackward, uniform } from '../helpers.js';

/**
 * Exports of F that are not differentiable ops, each with its reason. Keep it short: an op
 * belongs here only if it has no gradient by nature, and the test below checks that claim.
 */
const NOT_DIFFERENTIABLE: Record<string, string> = {
  accuracy: 'a metric: returns a graph-less scalar (argmax inside)',
  argmax: 'returns int32 indices',
  argmin: 'returns int32 indices',
  slice: 'builds a Slice index object for getItem; not an op',
  normAxes: 'axis-normalising helper shared by the reductions; returns numbers',
};

/**
 * Differentiable ops whose cross-device check is not checkOnDevices, each with its reason
 * and the file that checks it instead (the test below makes sure that file calls the op).
 */
const DEVICE_CHECKED_OTHERWISE: Record<string, { reason: string; file: string }> = {
  dropout: {
    reason: 'random: each device draws its own mask, so CPU and GPU outputs differ by design; checked by the mask statistics and by the gradient being gy times the same mask',
    file: 'nn.devices.test.ts',
  },
};

const HERE = dirname(fileURLToPath(import.meta.url));

/** Source text with comments removed, so a commented-out check does not count. */
const stripComments = (src: string) => src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\'"`])\/\/.*$/gm, '$1');

/** Op names tagged in checkOpBackward('name', ...) / checkOpDoubleBackward('name', ...) calls. */
function taggedChecks(src: string): { first: Set<string>; double: Set<string> } {
  const first = new Set<string>(), double = new Set<string>();
  for (const m of stripComments(src).matchAll(/\bcheckOp(Double)?Backward\(\s*'([A-Za-z_$][\w$]*)'/g)) (m[1] ? double : first).add(m[2]);
  return { first, double };
}

/** Op names tagged in checkOnDevices('name', ...) calls: the cross-device checks. */
function taggedDeviceChecks(src: string): Set<string> {
  return new Set([...stripComments(src).matchAll(/\bcheckOnDevices\(\s*'([A-Za-z_$][\w$]*)'/g)].map((m) => m[1]));
}

function scanOpTests(): { first: Set<string>; double: Set<string>; devices: Set<string>; files: string[] } {
  const files = readdirSync(HERE).filter((f) => f.endsWith('.test.ts') && f !== 'registry.test.ts');
  const first = new Set<string>(), double = new Set<string>(), devices = new Set<string>();
  for (const f of files) {
    const src = readFileSync(join(HERE, f), 'utf8');
    const found = taggedChecks(src);
    found.first.forEach((n) => first.add(n));
    found.double.forEach((n) => double.add(n));
    taggedDeviceChecks(src).forEach((n) => devices.add(n));
  }
  return { first, double, devices, files };
}

const exported = Object.entries(F).filter(([, v]) => typeof v === 'function').map(([k]) => k).sort();

test('registry: every differentiable function exported from F has a checkBackward case in test/ops', (t) => {
  const { first, double, files } = scanOpTests();
  t.true(files.length >= 5, `found only ${files.length} op test files`);
  const checked = new Set([...first, ...double]);
  const missing = exported.filter((name) => !(name in NOT_DIFFERENTIABLE) && !checked.has(name));
  t.deepEqual(missing, [], `ops without a gradient check (add checkOpBackward('<op>', ...) in test/ops): ${missing.join(', ')}`);
  // first-order checks specifically, not only double ones
  const noFirst = exported.filter((name) => !(name in NOT_DIFFERENTIABLE) && !first.has(name));
  t.deepEqual(noFirst, [], `ops without a first-order checkOpBackward: ${noFirst.join(', ')}`);
  const unknown = [...checked].filter((name) => !exported.includes(name));
  t.deepEqual(unknown, [], `gradient checks tagged with names F does not export: ${unknown.join(', ')}`);
});

test('registry: every differentiable function exported from F has a cross-device check (checkOnDevices) in test/ops; accuracy, argmax, argmin run on every device', (t) => {
  const { devices } = scanOpTests();
  const differentiable = exported.filter((name) => !(name in NOT_DIFFERENTIABLE));
  const missing = differentiable.filter((name) => !devices.has(name) && !(name in DEVICE_CHECKED_OTHERWISE));
  t.deepEqual(missing, [], `ops without a cross-device check (add checkOnDevices('<op>', ...) in a test/ops/*.devices.test.ts): ${missing.join(', ')}`);
  const unknown = [...devices].filter((name) => !differentiable.includes(name));
  t.deepEqual(unknown, [], `cross-device checks tagged with names that are not differentiable exports of F: ${unknown.join(', ')}`);
  for (const [name, { file }] of Object.entries(DEVICE_CHECKED_OTHERWISE)) {
    t.true(differentiable.includes(name), `DEVICE_CHECKED_OTHERWISE names ${name}, not a differentiable export of F`);
    t.false(devices.has(name), `${name} has a checkOnDevices now: take it off DEVICE_CHECKED_OTHERWISE`);
    t.regex(stripComments(readFileSync(join(HERE, file), 'utf8')), new RegExp(`\\bF\\.${name}\\(`), `${file} never calls F.${name}`);
  }
  // the non-differentiable ops that compute on arrays run on every device too
  const deviceSources = readdirSync(HERE).filter((f) => f.endsWith('.devices.test.ts')).map((f) => stripComments(readFileSync(join(HERE, f), 'utf8'))).join('\n');
  for (const name of ['accuracy', 'argmax', 'argmin']) {
    t.true(name in NOT_DIFFERENTIABLE);
    t.regex(deviceSources, new RegExp(`\\bF\\.${name}\\(`), `no test/ops/*.devices.test.ts calls F.${name}`);
  }
});

test('registry: double backward is checked for tanh, sigmoid, mul, exp, matmul and softmax', (t) => {
  const { double } = scanOpTests();
  for (const name of ['tanh', 'sigmoid', 'mul', 'exp', 'matmul', 'softmax']) t.true(double.has(name), `no checkOpDoubleBackward('${name}', ...)`);
});

test('registry: the allowlist is current and its ops really have no gradient', (t) => {
  const stale = Object.keys(NOT_DIFFERENTIABLE).filter((name) => !exported.includes(name));
  t.deepEqual(stale, [], `allowlisted names F no longer exports: ${stale.join(', ')}`);
  const y = new Variable(uniform([3, 4], 1));
  t.true(y.requiresGrad);
  for (const out of [F.accuracy(y, array([0, 1, 2], [3], 'int32')), F.argmax(y, 1), F.argmin(y, 0)]) {
    t.is(out.creator, null);
    t.false(out.requiresGrad);
  }
  t.is(F.argmax(y, 1).dtype, 'int32');
  t.false(F.slice(1, 2) instanceof Variable);
  t.deepEqual(F.normAxes(-1, 3, 'test'), [2]);
});

test('registry: the scanner ignores commented-out checks and reads both tags', (t) => {
  const src = [
    "checkOpBackward('add', (add) => add, []);",
    "// checkOpBackward('sub', (sub) => sub, []);",
    "/* checkOpBackward('mul', (mul) => mul, []); */",
    "checkOpDoubleBackward(\n  'tanh', (tanh) => tanh, [], []);",
    "const s = 'http://example.com'; checkOpBackward('exp', (exp) => exp, []);",
  ].join('\n');
  const { first, double } = taggedChecks(src);
  t.deepEqual([...first].sort(), ['add', 'exp']);
  t.deepEqual([...double], ['tanh']);
  const devices = taggedDeviceChecks([
    "await checkOnDevices('relu', (relu) => (a) => relu(a), [x], { device });",
    "// await checkOnDevices('elu', (elu) => (a) => elu(a), [x]);",
    "await checkOnDevices(\n  'matmul', (matmul) => matmul, []);",
    "checkOpBackward('sum', (sum) => sum, []);",
  ].join('\n'));
  t.deepEqual([...devices].sort(), ['matmul', 'relu']);
});

// ---- the harness can fail ------------------------------------------------------------------

/** y = 2x whose backward is wrong on purpose (or missing), to prove checkBackward notices. */
class Doubler extends FunctionNode {
  readonly label = 'doubler';
  constructor(private readonly scale: number | null) { super(); }
  forward([x]: readonly NDArray[]): NDArray[] { return [F.mul(x, 2).data]; }
  backward(_: readonly number[], [gy]: readonly Variable[]): (Variable | null)[] {
    return [this.scale === null ? null : F.mul(gy, this.scale)];
  }
}

test('harness: checkBackward passes a right backward and rejects a wrong or missing one', (t) => {
  const x = uniform([3, 2], 2);
  t.notThrows(() => checkBackward((v) => new Doubler(2).apply([v])[0], [x]));
  t.throws(() => checkBackward((v) => new Doubler(2.01).apply([v])[0], [x]), { message: /^checkBackward: analytic directional derivative .* differs from numerical/ });
  t.throws(() => checkBackward((v) => new Doubler(null).apply([v])[0], [x]), { message: /^checkBackward: analytic directional derivative 0 differs/ });
});

test('harness: checkOpBackward refuses a check that never calls the op it is tagged with', (t) => {
  t.throws(() => checkOpBackward('exp', () => (v) => F.tanh(v), [uniform([2], 3)]), {
    message: "checkOpBackward('exp'): the checked function never called F.exp",
  });
});
