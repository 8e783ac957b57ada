// Atomic writes: a process killed with SIGKILL while it saves a large checkpoint over an old one never leaves a broken file.

import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { L, NDArray } from '../../runtime/index.js';
import { loadNpz, saveNpz } from '../../runtime/serializers/index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/save-loop.ts', import.meta.url));
const N = 1 << 22; // two parameters of 4M float32 elements each: 32 MiB per checkpoint
const KILLS = 24;

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

/**
 * Start a child that saves in a loop and kill it inside one of its writes: the parent watches
 * for the child's temporary file, times three warm saves from that file's appearance to their
 * end (the write: npz bytes, fsync, rename), then kills the fourth `fraction` of that time
 * after its temporary file appears.
 */
function killDuringSave(dir: string, path: string, firstMarker: number, fraction: number): Promise<{ begun: number[]; ended: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', FIXTURE, path, String(firstMarker), String(N)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const begun: number[] = [], ended: number[] = [], windows: number[] = [];
    let opened = -1, buf = '', armed = false;
    // inotify tells when the child's temporary file appears (no polling to slow the child down)
    const watcher = watch(dir, (_event, name) => {
      if (opened >= 0 || name === null || !name.includes(`.${child.pid}.`) || !name.endsWith('.tmp') || !existsSync(join(dir, name))) return;
      opened = performance.now();
      if (windows.length >= 3 && !armed) {
        armed = true;
        const typical = windows.slice().sort((x, y) => x - y)[1];
        setTimeout(() => child.kill('SIGKILL'), fraction * typical);
      }
    });
    child.stdout.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const [what, marker] = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        if (what === 'begin') { begun.push(Number(marker)); opened = -1; }
        if (what === 'end') {
          ended.push(Number(marker));
          if (opened >= 0) windows.push(performance.now() - opened);
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      watcher.close();
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

  let marker = 1, renamed = 0, inside = 0, strays = 0;
  let before = await markerOf(path);
  for (let k = 0; k < KILLS; k++) {
    // fractions from 0 to 1 of a typical write: as the file opens, while writing, at fsync and rename
    const fraction = k / (KILLS - 1);
    const { begun, ended } = await killDuringSave(dir, path, marker + 1, fraction);
    const after = await markerOf(path); // throws if the checkpoint is broken or mixed
    // a temporary file left behind means the kill landed between its creation and the rename
    const now = readdirSync(dir).filter((f) => f.endsWith('.tmp')).length;
    const killed = begun[begun.length - 1];
    if (now > strays) {
      inside++;
      t.is(after, ended[ended.length - 1], `kill ${k} inside a write: the last finished checkpoint stays`);
    }
    t.true(after === before || ended.includes(after) || after === killed,
      `after kill ${k}: marker ${after}, expected the old ${before}, a finished save ${ended.join(',')} or the interrupted ${killed}`);
    if (after === killed) renamed++;
    marker = Math.max(marker, ...begun);
    before = after;
    strays = now;
  }
  t.log(`${KILLS} kills: ${inside} inside a write (its temporary file left behind), ${KILLS - inside} just after one finished; each time the checkpoint loaded intact (${renamed} times the killed save's own, renamed just before the kill; else the last finished save's)`);
  t.true(inside >= KILLS / 2, `only ${inside} of ${KILLS} kills landed inside a write`);
});
