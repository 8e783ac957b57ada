// The graph core holds no device policy: no module it imports, directly or transitively, lies under runtime/array/webgpu.

import test from 'ava';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const WEBGPU = 'runtime/array/webgpu/';

// static imports and re-exports (type-only ones too: the graph should not even name GPU
// types), side-effect imports, and dynamic import() of a literal path
const IMPORT = /(?:^|[;\s])(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|[;\s])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** The relative imports of `file` (repo-relative), resolved to repo-relative .ts paths. */
function importsOf(file: string): string[] {
  const src = readFileSync(join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
  const out: string[] = [];
  for (const m of src.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec.startsWith('.')) continue; // packages (node:, webgpu types) are not our modules
    const target = relative(ROOT, resolve(dirname(join(ROOT, file)), spec.replace(/\.js$/, '.ts')));
    if (!existsSync(join(ROOT, target))) throw new Error(`${file} imports '${spec}', which resolves to no file (${target})`);
    out.push(target);
  }
  return out;
}

/** Every module `starts` reach, each with the chain of imports that reached it first. */
function closure(starts: readonly string[]): Map<string, string[]> {
  const chains = new Map(starts.map((f) => [f, [f]]));
  const queue = [...starts];
  for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
    for (const g of importsOf(f)) {
      if (chains.has(g)) continue;
      chains.set(g, [...chains.get(f)!, g]);
      queue.push(g);
    }
  }
  return chains;
}

const GRAPH = readdirSync(join(ROOT, 'runtime/graph')).filter((f) => f.endsWith('.ts')).map((f) => `runtime/graph/${f}`);

test('no module under runtime/graph reaches runtime/array/webgpu through its imports, however indirectly', (t) => {
  t.true(GRAPH.includes('runtime/graph/backward.ts') && GRAPH.includes('runtime/graph/variable.ts'));
  const reached = closure(GRAPH);
  // the walk does reach the device-neutral core (so an import it failed to parse cannot pass unseen)
  for (const core of ['runtime/array/backend.ts', 'runtime/array/xp.ts', 'runtime/ops/arithmetic.ts']) t.true(reached.has(core), `${core} not reached`);
  const gpu = [...reached].filter(([f]) => f.startsWith(WEBGPU)).map(([, chain]) => chain.join(' -> '));
  t.deepEqual(gpu, [], `the graph core reaches WebGPU code:\n${gpu.join('\n')}`);
});

test('runtime/devices.ts (scope, the step scope) and runtime/array/pin.ts import nothing under runtime/array/webgpu', (t) => {
  for (const f of ['runtime/devices.ts', 'runtime/array/pin.ts']) {
    const direct = importsOf(f);
    t.true(direct.length > 0, `${f}: no import found`);
    t.deepEqual(direct.filter((g) => g.startsWith(WEBGPU)), [], f);
  }
  // pin.ts stays as clean as the graph, however indirectly
  const pinGpu = [...closure(['runtime/array/pin.ts'])].filter(([f]) => f.startsWith(WEBGPU)).map(([, c]) => c.join(' -> '));
  t.deepEqual(pinGpu, []);
});

test('the walk sees WebGPU where it is: the public index reaches the WebGPU backend and its memory pool', (t) => {
  const reached = closure(['runtime/index.ts']);
  t.true(reached.has('runtime/array/webgpu/backend.ts'));
  t.true(reached.has('runtime/array/webgpu/memory.ts'));
  // and each syntax the pattern reads is read
  const forms = [`import { a } from './x.js';`, `import type { B } from "./y.js"`, `export * from './z.js';`, `import './side.js';`, `const m = await import('./lazy.js');`, `import {\n  a,\n  b,\n} from './multi.js';`];
  for (const src of forms) t.is([...src.matchAll(IMPORT)].length, 1, src);
});
