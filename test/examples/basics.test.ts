// examples/basics runs as a user would run it and prints Chainer's slide-24 numbers.

import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

// node --import tsx is `npx tsx` without npx's start-up; tsx maps 'kusari' through tsconfig paths
const tsx = (script: string, ...args: string[]) => run(process.execPath, ['--import', 'tsx', script, ...args], { timeout: 20_000 });

test('basics prints z = 4, gx = 4, gy = 3', async (t) => {
  const { stdout } = await tsx('examples/basics/main.ts');
  t.deepEqual(stdout.trim().split('\n'), ['z = 4', 'gx = 4', 'gy = 3']);
});

test('basics --dot prints only the graph, with x, y and z in it', async (t) => {
  const { stdout } = await tsx('examples/basics/main.ts', '--dot');
  t.regex(stdout, /^digraph graphname \{\n/);
  t.regex(stdout, /\}\n$/);
  for (const name of ['x', 'y', 'z']) t.regex(stdout, new RegExp(`label="${name} \\(\\) float32"`));
  t.notRegex(stdout, /^z = /m);
});
