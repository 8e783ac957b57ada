// The rollup plugin: a bundle of a tiny project runs the fused kernel, its map (chained through an earlier plugin) leads to the original line, and @fuse failures fail the build.

import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';
import MagicString from 'magic-string';
import { rollup, type Plugin, type RollupOutput } from 'rollup';
import kusari from '../../../transforms/rollup.js';
import { APP, CHAIN_LINE, MODEL, PLAIN, ROOT, TAGGED_IF, TAGGED_IF_LINE, expectedY, tempDir, write } from './tiny.js';

const run = promisify(execFile);
const TSCONFIG = join(ROOT, 'tsconfig.json'); // its `paths` map 'kusari' to runtime/index.ts for the checker

/** An earlier plugin that moves model.ts's lines down by three: rollup must chain its map with kusari's. */
const banner: Plugin = {
  name: 'banner',
  transform(code, id) {
    if (!id.endsWith('model.ts')) return null;
    const s = new MagicString(code);
    s.prepend('// one\n// two\n// three\n');
    return { code: s.toString(), map: s.generateMap({ hires: true, source: id, includeContent: true }) };
  },
};

async function bundle(input: string, plugins: Plugin[]): Promise<RollupOutput['output']> {
  const b = await rollup({ input, external: (id) => id === 'kusari' || id.startsWith('node:'), plugins, onwarn: () => {} });
  try {
    return (await b.generate({ format: 'es', sourcemap: true })).output;
  } finally {
    await b.close();
  }
}

test('a bundle of a tiny model runs the generated kernel and prints what the unbuilt source prints', async (t) => {
  const { dir, remove } = tempDir('rollup');
  t.teardown(remove);
  write(dir, { 'src/app.ts': APP, 'src/model.ts': MODEL, 'src/plain.ts': PLAIN });
  const [chunk] = await bundle(join(dir, 'src/app.ts'), [kusari({ tsconfig: TSCONFIG })]);
  t.is(chunk.type, 'chunk');
  const code = (chunk as { code: string }).code;
  t.regex(code, /const __kusariKernel0 = (__kusariDefine|defineFusedKernel)\(\{ name: "fused_mul_add_tanh_[0-9a-f]{16}"/);
  t.regex(code, /__kusariKernel0\.apply\(h, 0\.5, 1\)\[0\]/);
  t.notRegex(code, /: Variable\b/, 'types stripped');
  write(dir, { 'dist/app.js': code });
  // 'kusari' stays an import: tsx resolves it through tsconfig's paths, as for the source
  const built = await run(process.execPath, ['--import', 'tsx', join(dir, 'dist/app.js')], { cwd: ROOT });
  const source = await run(process.execPath, ['--import', 'tsx', join(dir, 'src/app.ts')], { cwd: ROOT });
  const b = JSON.parse(built.stdout) as { y: number[][]; fused: boolean; two: number };
  const s = JSON.parse(source.stdout) as typeof b;
  t.true(b.fused);
  t.false(s.fused);
  t.is(b.two, 2);
  b.y[0].forEach((v, i) => t.true(Math.abs(v - expectedY()[0][i]) < 1e-6 && Math.abs(v - s.y[0][i]) < 1e-6, `y[${i}] ${v} vs ${s.y[0][i]}`));
});

test('the bundle\'s map leads from the kernel call to the chain\'s line, through an earlier plugin\'s map', async (t) => {
  const { dir, remove } = tempDir('rollup');
  t.teardown(remove);
  write(dir, { 'src/model.ts': MODEL });
  const [chunk] = await bundle(join(dir, 'src/model.ts'), [banner, kusari({ tsconfig: TSCONFIG })]);
  const { code, map } = chunk as { code: string; map: object };
  const lines = code.split('\n');
  const line = lines.findIndex((l) => l.includes('__kusariKernel0.apply('));
  t.true(line > 0);
  const pos = originalPositionFor(new TraceMap(map as never), { line: line + 1, column: lines[line].indexOf('__kusariKernel0.apply(') });
  t.is(pos.line, CHAIN_LINE, `mapped to ${pos.source}:${pos.line}`);
  t.true(pos.source!.endsWith('model.ts'));
  const throwAt = lines.findIndex((l) => l.includes("'boom at model.ts:10'"));
  t.is(originalPositionFor(new TraceMap(map as never), { line: throwAt + 1, column: lines[throwAt].indexOf('throw') }).line, 10);
});

test('a @fuse function holding an if fails the build with the reason and its line', async (t) => {
  const { dir, remove } = tempDir('rollup');
  t.teardown(remove);
  write(dir, { 'src/gate.ts': TAGGED_IF });
  const e = await t.throwsAsync(bundle(join(dir, 'src/gate.ts'), [kusari({ tsconfig: TSCONFIG })]));
  t.regex(e!.message, new RegExp(`gate\\.ts:${TAGGED_IF_LINE}: .*\\bif\\b.*\\[control-flow\\]`));
});

test("report: 'json' emits kusari-report.json with the chain; a file with nothing to fuse comes through unchanged", async (t) => {
  const { dir, remove } = tempDir('rollup');
  t.teardown(remove);
  write(dir, { 'src/app.ts': APP, 'src/model.ts': MODEL, 'src/plain.ts': PLAIN });
  const output = await bundle(join(dir, 'src/app.ts'), [kusari({ tsconfig: TSCONFIG, report: 'json' })]);
  const asset = output.find((o) => o.fileName === 'kusari-report.json') as { source: string } | undefined;
  t.truthy(asset);
  const reports = JSON.parse(asset!.source) as { file: string; chains: { line: number; ops: string[] }[] }[];
  t.deepEqual(reports.map((r) => [r.file.replace(/^.*\//, ''), r.chains.map((c) => [c.line, c.ops.join(' ')])]), [
    ['app.ts', []], ['model.ts', [[CHAIN_LINE, 'mul add tanh']]], ['plain.ts', []],
  ]);
  // transpile: false hands the TypeScript on; nothing fused means nothing returned (rollup keeps the code)
  const plugin = kusari({ tsconfig: TSCONFIG, transpile: false });
  (plugin.buildStart as () => void).call({});
  const transform = plugin.transform as (code: string, id: string) => unknown;
  t.is(transform.call({}, PLAIN, join(dir, 'src/plain.ts')), null);
  t.is(transform.call({}, readFileSync(join(dir, 'src/model.ts'), 'utf8'), join(dir, 'node_modules/x/model.ts')), null, 'node_modules is never rewritten');
});
