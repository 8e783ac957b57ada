// Atomic writes: a process killed with SIGKILL while it saves a large checkpoint over an old one never leaves a broken file.

import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { L, NDArray } from '../../runtime/index.js';
import { loadNpz, saveNpz } from '../../runtime/serializers/index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/save-loop.ts', import.meta.url));
const N = 1 << 22; // two parameters of 4M float32 elements each: 32 MiB per checkpoint
const KILLS = 30;

class Big extends L.Link {
  a = new L.Parameter(new NDArray(new Float32Array(N), [N]));
  b = new L.Parameter(new NDArray(new Float32Array(N), [N / 4, 4]));
}

/** The marker every element of a loaded checkpoint carries; throws if the file is broken or mixed. */
async function markerOf(path: string): Promise<number> {
  const m = new Big();
  await loadNpz(path, m);
  const a = m.a.data.toFlat(), b = m.b.data.toFlat();
  const marker = a[0];
  for (let i = 0; i < N; i++) if (a[i] !== marker || b[i] !== -marker) throw new Error(`mixed checkpoint at element ${i}`);
  return marker;
}

/** Start a child that saves in a loop, kill it `fraction` of one save's duration after a save begins. */
function killDuringSave(path: string, firstMarker: number, fraction: number): Promise<{ begun: number[]; ended: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', FIXTURE, path, String(firstMarker), String(N)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const begun: number[] = [], ended: number[] = [];
    const durations: number[] = [];
    let armed = false, buf = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const [what, marker, ms] = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        if (what === 'end') { ended.push(Number(marker)); durations.push(Number(ms)); }
        if (what === 'begin') {
          begun.push(Number(marker));
          // three saves measure how long a warm one takes (the first is cold and the disk is shared, so take
          // the median); the fourth is killed part-way through
          if (durations.length >= 3 && !armed) {
            armed = true;
            const typical = durations.slice().sort((x, y) => x - y)[1];
            setTimeout(() => child.kill('SIGKILL'), fraction * typical);
          }
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`the saving child exited with ${code ?? signal} before it was killed`));
      else resolve({ begun, ended });
    });
  });
}

test(`saveNpz: ${KILLS} SIGKILLs spread over saves of a 32 MiB checkpoint never break the existing file`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kusari-atomic-'));
  const path = join(dir, 'snapshot.npz');
  const first = new Big();
  first.a.data.buffer.fill(1);
  first.b.data.buffer.fill(-1);
  await saveNpz(path, first);
  t.true(statSync(path).size > 32 * 2 ** 20);

  let marker = 1, older = 0, newer = 0, inside = 0, strays = 0;
  let before = await markerOf(path);
  for (let k = 0; k < KILLS; k++) {
    // fractions from 0 to 1.1 of a save: while capturing, writing, at fsync and rename, just after
    const fraction = (k / (KILLS - 1)) * 1.1;
    const { begun, ended } = await killDuringSave(path, marker + 1, fraction);
    const after = await markerOf(path); // throws if the checkpoint is broken or mixed
    // a temporary file left behind means the kill landed between its creation and the rename
    const now = readdirSync(dir).filter((f) => f.endsWith('.tmp')).length;
    if (now > strays) inside++;
    const killed = begun[begun.length - 1];
    t.true(after === before || ended.includes(after) || after === killed,
      `after kill ${k}: marker ${after}, expected the old ${before}, a finished save ${ended.join(',')} or the interrupted ${killed}`);
    if (after === killed) newer++; else if (now === strays) older++;
    marker = Math.max(marker, ...begun);
    before = after;
    strays = now;
  }
  t.log(`${KILLS} kills: ${inside} inside a write (a temporary file left behind), ${older} before a write began, ${newer} after the killed save's rename; the old checkpoint loaded intact every time`);
  t.true(inside >= KILLS / 3, `only ${inside} of ${KILLS} kills landed inside a write`);
});
