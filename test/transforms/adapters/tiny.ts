// A tiny project the adapter tests build: a model with one chain in forward, a file with nothing to fuse, and a @fuse function holding an if.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** model.ts: the chain sits on line 8; line 10 throws for a negative `boom`, so a stack trace names a line after the chain. */
export const MODEL = `import { F, L, type Variable } from 'kusari';

export class Net extends L.Chain {
  l1 = new L.Linear(3, 4);

  forward(x: Variable, boom = 0): Variable {
    const h = this.l1.forward(x);
    const y = F.tanh(F.add(F.mul(h, 0.5), 1));
    if (boom < 0) {
      throw new Error('boom at model.ts:10');
    }
    return y;
  }
}
`;
/** The line of MODEL's chain, and of its throw. */
export const CHAIN_LINE = 8;
export const THROW_LINE = 10;

/** Nothing to fuse here: every adapter must hand it on byte for byte. */
export const PLAIN = `// helpers with no forward code
export const scale = (v: number): number => v * 2;
`;

/** Prints the model's output for fixed weights and whether forward runs a generated kernel. */
export const APP = `import { Variable, array } from 'kusari';
import { Net } from './model.js';
import { scale } from './plain.js';

const net = new Net();
net.l1.W.data = array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [-0.7, 0.8, 0.9], [1, -1.1, 1.2]]);
const y = net.forward(new Variable(array([[1, 2, 3]])));
console.log(JSON.stringify({ y: y.data.toArray(), fused: Net.prototype.forward.toString().includes('.apply('), two: scale(1) }));
if (process.argv.includes('--boom')) net.forward(new Variable(array([[1, 2, 3]])), -1);
`;

/** A function tagged @fuse with an if: the build must fail with the reason. */
export const TAGGED_IF = `import { F, type Variable } from 'kusari';

/** @fuse */
export function gate(x: Variable, y: Variable): Variable {
  if (x.shape[0] > 1) {
    return F.sigmoid(x);
  }
  return F.mul(F.tanh(x), F.sigmoid(y));
}
`;
export const TAGGED_IF_LINE = 5;

/** The expected y of APP, computed here in plain JS (W as set, b zero). */
export function expectedY(): number[][] {
  const W = [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [-0.7, 0.8, 0.9], [1, -1.1, 1.2]];
  const x = [1, 2, 3];
  return [W.map((row) => Math.tanh(row.reduce((s, w, i) => s + w * x[i], 0) * 0.5 + 1))];
}

/** A fresh folder inside the repository (so node_modules and tsconfig.json resolve), removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(ROOT, `.adapters-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Write `files` (relative path -> text) under `dir`. */
export function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}
