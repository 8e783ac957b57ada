// Keeps the README honest: its quick start has two commands that exist, and its code runs.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

test('README starts with a quick start of exactly two commands: the MNIST job and npm test', (t) => {
  const section = readme.split('## Quick start')[1];
  t.truthy(section, 'no "## Quick start" section');
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1].trim().split('\n');
  t.deepEqual(block, ['npm install && npm run mnist', 'npm test']);
  t.regex(pkg.scripts.mnist, /examples\/mnist\/train\.ts/);
  t.regex(pkg.scripts.test, /ava/);
  // the quick start is the first section after the title and one-line summary
  t.true(readme.indexOf('## Quick start') < readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1));
});

test('every TypeScript block in the README runs', (t) => {
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  t.true(blocks.length >= 2);
  const dir = mkdtempSync(join(root, '.readme-check-'));
  try {
    const outputs = blocks.map((code, i) => {
      const file = join(dir, `block${i}.ts`);
      writeFileSync(file, code);
      return execFileSync('npx', ['tsx', file], { cwd: root, stdio: 'pipe' }).toString();
    });
    t.is(outputs[0].trim(), '[ 4 ] [ 4 ] [ 3 ]');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
