// The published shape: `npm run build` makes dist/, and `import ... from 'kusari'` works from it.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

test('npm run build makes dist/ (ESM + .d.ts) and the package imports by name', (t) => {
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe' });
  t.true(existsSync(join(root, 'dist/index.js')));
  t.true(existsSync(join(root, 'dist/index.d.ts')));
  // A plain .mjs file inside the package resolves 'kusari' through package.json "exports".
  const dir = mkdtempSync(join(root, '.build-check-'));
  try {
    const script = join(dir, 'check.mjs');
    writeFileSync(script, `
      import { Variable, F, L, optimizers, array } from 'kusari';
      const model = new L.Linear(3, 2);
      const opt = new optimizers.SGD(0.1).setup(model);
      const x = new Variable(array([[1, 2, 3]]));
      opt.update(() => F.sum(F.relu(model.forward(x))));
      console.log(JSON.stringify({ t: opt.t, shape: model.W.grad.shape }));
    `);
    const out = JSON.parse(execFileSync('node', [script], { cwd: dir }).toString());
    t.deepEqual(out, { t: 1, shape: [2, 3] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
