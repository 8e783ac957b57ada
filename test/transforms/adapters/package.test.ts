// The built package in a temporary node_modules: `import 'kusari'` loads neither ts-morph nor TypeScript; kusari/register (plain node and tsx), the bin and kusari/rollup work from dist.

import test from 'ava';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { APP, MODEL, PLAIN, ROOT, TAGGED_IF, THROW_LINE, expectedY, tempDir, write } from './tiny.js';

const run = promisify(execFile);
type Failure = Error & { code: number; stdout: string; stderr: string };

// One build for the whole file (it is the slow part): the package as npm would install it,
// node_modules/kusari/{package.json, bin, dist}, beside an app that depends on it. The folder
// sits inside the repository so that ts-morph and the rest resolve from its node_modules.
const { dir, remove } = tempDir('package');
test.after.always(remove);
const pkg = join(dir, 'node_modules/kusari');
const app = join(dir, 'app');

test.before(async () => {
  mkdirSync(pkg, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(ROOT, 'bin'), join(pkg, 'bin'), { recursive: true });
  await run(process.execPath, [join(ROOT, 'node_modules/rollup/dist/bin/rollup'), '-c'], { cwd: ROOT, env: { ...process.env, KUSARI_DIST: join(pkg, 'dist') } });
  write(app, {
    'package.json': '{ "type": "module" }\n',
    'tsconfig.json': '{ "compilerOptions": { "strict": true, "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "skipLibCheck": true } }\n',
    'app.ts': APP, 'model.ts': MODEL, 'plain.ts': PLAIN,
  });
});

/** A resolve hook that writes every URL the process resolves to `log`, one per line. */
function graphLogger(log: string): string {
  const hooks = join(dir, 'graph-hooks.mjs');
  writeFileSync(hooks, `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, r.url + '\\n');
  return r;
}
`);
  const register = join(dir, `graph-${log.replace(/\W/g, '')}.mjs`);
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(new URL(`file://${hooks}`).href)});\n`);
  return register;
}

const loads = (log: string) => readFileSync(log, 'utf8').trim().split('\n');
const heavy = (urls: string[]) => urls.filter((u) => /\/node_modules\/(ts-morph|@ts-morph|typescript|magic-string)\//.test(u));

test('import \'kusari\' from the built package loads neither ts-morph nor typescript (its import graph, logged); kusari/rollup does', async (t) => {
  const plain = join(dir, 'plain.log');
  // ts-morph is CommonJS: were it loaded through require, the require cache would show it
  const script = join(app, 'plain-import.mjs'); // app's package.json: 'kusari' is the installed one, not the checkout's own
  writeFileSync(script, `import * as k from 'kusari';
import { createRequire } from 'node:module';
console.log(k.F.tanh(k.array([0.5])).data.toArray()[0]);
console.log(Object.keys(createRequire(import.meta.url).cache).join(','));
`);
  const { stdout } = await run(process.execPath, ['--import', graphLogger(plain), script], { cwd: app });
  t.is(Number(stdout.split('\n')[0]), Math.fround(Math.tanh(0.5)));
  t.is(stdout.split('\n')[1], '', 'no CommonJS module in the require cache');
  const urls = loads(plain);
  t.true(urls.some((u) => u.endsWith('/node_modules/kusari/dist/index.js')), 'the log saw kusari itself');
  t.deepEqual(heavy(urls), []);
  t.notRegex(readFileSync(join(pkg, 'dist/index.js'), 'utf8'), /from ['"](ts-morph|typescript|magic-string)['"]/);
  // the same check on the transform's entry point finds them: the log would have seen a leak
  const rollupLog = join(dir, 'rollup.log');
  await run(process.execPath, ['--import', graphLogger(rollupLog), '--input-type=module', '-e', "import 'kusari/rollup';"], { cwd: app });
  t.true(heavy(loads(rollupLog)).some((u) => u.includes('/ts-morph/')));
});

test('node --import kusari/register app.ts: the model runs fused, prints the reference values, and a stack trace names the original line', async (t) => {
  const { stdout } = await run(process.execPath, ['--import', 'kusari/register', 'app.ts'], { cwd: app });
  const r = JSON.parse(stdout) as { y: number[][]; fused: boolean; two: number };
  t.true(r.fused);
  t.is(r.two, 2);
  r.y[0].forEach((v, i) => t.true(Math.abs(v - expectedY()[0][i]) < 1e-6, `y[${i}] ${v}`));
  const e = await t.throwsAsync(run(process.execPath, ['--import', 'kusari/register', 'app.ts', '--boom'], { cwd: app })) as Failure;
  t.regex(e.stderr, new RegExp(`model\\.ts:${THROW_LINE}:\\d+`), e.stderr);
});

test('the same through tsx (tsx --import kusari/register app.ts)', async (t) => {
  const { stdout } = await run(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), '--import', 'kusari/register', 'app.ts'], { cwd: app });
  const r = JSON.parse(stdout) as { y: number[][]; fused: boolean };
  t.true(r.fused);
  r.y[0].forEach((v, i) => t.true(Math.abs(v - expectedY()[0][i]) < 1e-6, `y[${i}] ${v}`));
});

test('the bin from dist: kusari fuse writes the fused app; the loader runs that output with the CLI\'s map chained to the source', async (t) => {
  const bin = join(pkg, 'bin/kusari.js');
  const out = join(dir, 'fused');
  const { stderr } = await run(process.execPath, [bin, 'fuse', '.', '--out', out], { cwd: app });
  t.regex(stderr, /1 chain\(s\) fused in 3 TypeScript file\(s\)/);
  t.regex(readFileSync(join(out, 'model.ts'), 'utf8'), /__kusariKernel0\.apply\(h, 0\.5, 1\)\[0\]/);
  // out/model.ts is generated (never transformed again); its stack trace goes through two maps to app/model.ts
  const e = await t.throwsAsync(run(process.execPath, ['--import', 'kusari/register', join(out, 'app.ts'), '--boom'], { cwd: app })) as Failure;
  t.regex(e.stderr, new RegExp(`app/model\\.ts:${THROW_LINE}:\\d+`), e.stderr);
  write(join(dir, 'gate'), { 'gate.ts': TAGGED_IF, 'tsconfig.json': readFileSync(join(app, 'tsconfig.json'), 'utf8') });
  const fail = await t.throwsAsync(run(process.execPath, [bin, 'fuse', join(dir, 'gate'), '--out', join(dir, 'fused2')], { cwd: app })) as Failure;
  t.is(fail.code, 1);
  t.regex(fail.stderr, /gate\.ts:5: .*\[control-flow\]/);
});

test('kusari/rollup from dist bundles the app with the fused kernel', async (t) => {
  const script = join(app, 'build.mjs');
  writeFileSync(script, `import { rollup } from ${JSON.stringify(join(ROOT, 'node_modules/rollup/dist/es/rollup.js'))};
import kusari from 'kusari/rollup';
const b = await rollup({ input: 'app.ts', external: ['kusari'], plugins: [kusari()] });
await b.write({ file: 'bundle/app.js', format: 'es' });
`);
  await run(process.execPath, [script], { cwd: app });
  const { stdout } = await run(process.execPath, [join(app, 'bundle/app.js')], { cwd: app });
  const r = JSON.parse(stdout) as { y: number[][]; fused: boolean };
  t.true(r.fused);
  r.y[0].forEach((v, i) => t.true(Math.abs(v - expectedY()[0][i]) < 1e-6, `y[${i}] ${v}`));
});
