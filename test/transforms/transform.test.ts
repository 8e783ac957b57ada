// transformFile's contract: @fuse failures fail the build with the reason, the build/runtime kernel-name check, the source map, the report.

import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';
import { input } from '../../compiler/expr.js';
import { exprsToJSON } from '../../compiler/serialize.js';
import { defineFusedKernel } from '../../runtime/fusion/declared.js';
import { FuseBuildError, formatReport, transformFile } from '../../transforms/index.js';
import { ROOT, RUNTIME, project, transform } from './helpers.js';

const HEAD = `import { F, Variable } from ${JSON.stringify(RUNTIME)};\n\n`;

function buildError(t: import('ava').ExecutionContext, body: string): FuseBuildError {
  const e = t.throws(() => transform('test/transforms/tagged.ts', HEAD + body), { instanceOf: FuseBuildError });
  return e as FuseBuildError;
}

test('@fuse: an if inside fails the build with control-flow, the file and the line', (t) => {
  const e = buildError(t, '/** @fuse */\nexport function f(x: Variable, c: boolean) {\n  const y = x.mul(2).add(1);\n  if (c) return y.tanh();\n  return y;\n}\n');
  t.is(e.reason, 'control-flow');
  t.is(e.file, 'test/transforms/tagged.ts');
  t.is(e.line, 6);
  t.regex(e.message, /^test\/transforms\/tagged\.ts:6: f is tagged @fuse but holds if at line 6; .*\[control-flow\]$/);
});

test('@fuse: loops, ?: and await fail too; an untagged function with the same code is left alone', (t) => {
  t.is(buildError(t, '/** @fuse */\nexport function f(xs: Variable[]) {\n  let h = xs[0].mul(2).exp();\n  for (const x of xs) h = h.add(x).tanh();\n  return h;\n}\n').reason, 'control-flow');
  t.is(buildError(t, '/** @fuse */\nexport const f = (x: Variable, c: boolean) => (c ? x.tanh() : x.exp()).mul(2);\n').reason, 'control-flow');
  t.is(buildError(t, '/** @fuse */\nexport async function f(x: Variable) {\n  const s = await x.sum().item();\n  return x.mul(s).exp();\n}\n').reason, 'control-flow');
  const untagged = transform('test/transforms/untagged.ts', HEAD + 'export function forward(x: Variable, c: boolean) {\n  const y = x.mul(2).add(1);\n  if (c) return y.tanh();\n  return y;\n}\n');
  t.true(untagged.changed);
  t.is(untagged.report.chains.length, 1);
});

test('@fuse: an op the checker cannot resolve fails the build with unresolved-type', (t) => {
  const e = buildError(t, '/** @fuse */\nexport function f(x: any, y: Variable) {\n  return y.mul(x).exp();\n}\n');
  t.is(e.reason, 'unresolved-type');
  t.regex(e.message, /y\.mul\(x\): argument 1 \(x\): its type is any/);
});

test('defineFusedKernel: a kernel name recorded by another build (version skew) fails loudly at definition', (t) => {
  const ir = exprsToJSON([input(0).mul(input(1)).tanh()]);
  const e = t.throws(() => defineFusedKernel({ name: 'k', kernel: 'fused_mul_tanh_0000000000000000', ir, steps: ['mul(x=i0, y=i1)', 'tanh(x=t0)'], outputs: [1] }));
  t.regex(e!.message, /^defineFusedKernel k: the build recorded kernel fused_mul_tanh_0000000000000000 but this runtime renders fused_\w+_[0-9a-f]{16}; .*rebuild/);
  // and a step list that does not match the op table is refused, naming the step
  t.throws(() => defineFusedKernel({ name: 'k2', ir, steps: ['mul(x=i0, z=i1)', 'tanh(x=t0)'], outputs: [1] }), { message: /^defineFusedKernel k2: step 0 "mul\(x=i0, z=i1\)": argument 1 is y in the op table, not z$/ });
  t.throws(() => defineFusedKernel({ name: 'k3', ir, steps: ['mul(x=i0, y=i1)', 'tanh(x=t1)'], outputs: [1] }), { message: /^defineFusedKernel k3: step 1 "tanh\(x=t1\)": x=t1 is out of range \(only 1 earlier step\(s\)\)$/ });
});

test('transformFile: the generated kernel names are the ones the runtime renders (the check passes on the real output)', async (t) => {
  const out = transform('test/transforms/names.ts', HEAD + 'export function forward(x: Variable, w: Variable) {\n  return x.mul(w).add(1).tanh();\n}\n', { runtimeImport: RUNTIME });
  const spec = /__kusariDefine\((\{.*\})\);/.exec(out.code)![1];
  // the spec is plain data: evaluate it and define the kernel as the module would
  const k = defineFusedKernel((0, eval)(`(${spec})`));
  t.is(k.name, out.report.chains[0].kernel);
});

test('source map: a position in the rewritten call maps back to the original line and column', (t) => {
  const text = HEAD + 'export function forward(x: Variable, w: Variable) {\n  const a = x.mul(w);\n  const b = a.add(1).tanh();\n  return b.mul(b);\n}\n';
  const out = transform('test/transforms/map.ts', text);
  const code = out.code;
  const at = code.indexOf('__kusariKernel0.apply(');
  const before = code.slice(0, at).split('\n');
  const pos = originalPositionFor(new TraceMap(out.map as never), { line: before.length, column: before[before.length - 1].length });
  // the call replaced `b.mul(b)` on line 6, column 9 (0-based)
  t.is(pos.line, 6);
  t.is(pos.column, 9);
  t.is(pos.source, 'map.ts');
  // unchanged code keeps its bytes and maps to itself
  const sig = code.indexOf('export function forward');
  const l = code.slice(0, sig).split('\n').length;
  t.is(originalPositionFor(new TraceMap(out.map as never), { line: l, column: 0 }).line, 3);
});

test('source map: an incoming map is chained (positions go back to the first source)', (t) => {
  const text = HEAD + 'export function forward(x: Variable) {\n  return x.mul(2).exp();\n}\n';
  // an identity map from a previous step whose source is called original.ts
  const lines = text.split('\n');
  const mappings = lines.map((_, i) => (i === 0 ? 'AAAA' : 'AACA')).join(';');
  const out = transform('test/transforms/chained.ts', text, { inputSourceMap: { version: 3, sources: ['original.ts'], names: [], mappings } });
  const code = out.code;
  const before = code.slice(0, code.indexOf('__kusariKernel0.apply(')).split('\n');
  const pos = originalPositionFor(new TraceMap(out.map as never), { line: before.length, column: before[before.length - 1].length });
  t.is(pos.source, 'original.ts');
  t.is(pos.line, 4);
});

test('transformFile: a file not mentioning forward or @fuse, or already generated, is returned as is without a project', (t) => {
  const text = HEAD + 'export const f = (x: Variable) => x.mul(2).exp();\n';
  const r = transformFile(`${ROOT}/test/transforms/plain.ts`, text, { project: project() });
  t.is(r.code, text);
  t.false(r.changed);
  t.is(r.map, null);
  const gen = '// Generated by kusari from x.ts; do not edit.\n' + text.replace('f =', 'forward =');
  t.is(transformFile(`${ROOT}/test/transforms/gen.ts`, gen, { project: project() }).code, gen);
});

test('report: the text names every chain and every candidate left alone with its reason', (t) => {
  const out = transform('test/transforms/report.ts', HEAD + 'function tanh(v: Variable) { return v; }\nexport function forward(x: Variable, w: Variable) {\n  const y = F.tanh(x.mul(w).add(1));\n  return tanh(y).exp();\n}\n');
  const text = formatReport([out.report]);
  t.is(text, [
    'test/transforms/report.ts:5: fused mul -> add -> tanh into ' + out.report.chains[0].kernel + '; inputs x, w; outputs y; saves 2 forward and 1 backward dispatch(es) per call',
    "test/transforms/report.ts:6: left alone [not-elementwise]: tanh resolves to report.ts:3, not to kusari's op tanh",
    'test/transforms/report.ts:6: left alone [single-op]: tanh(y).exp() is one op with nothing to fuse with',
    '1 chain(s) fused in 1 file(s), saving 2 forward and 1 backward dispatch(es) per call of each; 2 candidate(s) left alone',
    '',
  ].join('\n'));
  t.deepEqual(out.report.chains[0], { file: 'test/transforms/report.ts', line: 5, ops: ['mul', 'add', 'tanh'], inputs: ['x', 'w'], outputs: ['y'], kernel: out.report.chains[0].kernel, dispatchesSavedForward: 2, dispatchesSavedBackward: 1 });
});

test('layering: nothing under runtime/ or compiler/ imports transforms/, ts-morph, typescript or magic-string', (t) => {
  const bad: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        for (const m of fs.readFileSync(p, 'utf8').matchAll(/(?:from|import\()\s*['"]([^'"]+)['"]/g)) {
          if (/transforms\/|^ts-morph|^typescript|^magic-string|^@jridgewell/.test(m[1])) bad.push(`${path.relative(ROOT, p)}: ${m[1]}`);
        }
      }
    }
  };
  walk(path.join(ROOT, 'runtime'));
  walk(path.join(ROOT, 'compiler'));
  t.deepEqual(bad, []);
});
