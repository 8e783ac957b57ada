// examples/fusion and npm run fusion: a tiny comparison job per device builds the example twice, trains three versions and reports the same losses with fewer dispatches.

import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { useDevices } from '../helpers.js';

const run = promisify(execFile);
// serial: each job rebuilds build/fusion, which two jobs at once would race on
const devices = await useDevices(test.serial);

interface Variant { name: string; dispatchesPerStep: number; firstStepPipelines: Record<string, number>; firstStepCompiled: string[]; losses: number[]; stepMs: number[][] }
interface Job { steps: number; devices: Record<string, { sameLoss: boolean; maxLossDiff: number; variants: Variant[] }> }

devices.each('npm run fusion, tiny: three versions train to the same losses, the fused ones with fewer dispatches', async (t, device) => {
  const dir = mkdtempSync(join(tmpdir(), 'kusari-fusion-job-'));
  try {
    const out = join(dir, 'fusion-job.json');
    const { stdout } = await run(process.execPath, [
      '--import', 'tsx', 'examples/fusion/compare.ts', '--device', device, '--steps', '4', '--warmup', '1',
      '--rounds', '1', '--batchsize', '8', '--strips', '4', '--units', '8', '--hidden', '16', '--out', out,
    ], { timeout: 600_000, maxBuffer: 16 << 20 });
    t.regex(stdout, /^built examples\/fusion with the rollup plugin \(\d+\.\d s\) and the CLI \(\d+\.\d s\); the CLI's report:/);
    t.regex(stdout, new RegExp(`${device}: same loss at every step .*: yes`));
    const job = JSON.parse(readFileSync(out, 'utf8')) as Job;
    t.is(job.steps, 4);
    const d = job.devices[device];
    t.deepEqual(d.variants.map((v) => v.name), ['unfused', 'fused (rollup)', 'fused (CLI)']);
    t.true(d.sameLoss, `max loss difference ${d.maxLossDiff}`);
    const [unfused, ...fused] = d.variants;
    for (const v of d.variants) {
      t.is(v.losses.length, 4);
      t.deepEqual(v.stepMs.map((r) => r.length), [4]);
      // the first loss of a fresh 10-way classifier is near ln 10
      t.true(Math.abs(v.losses[0] - Math.log(10)) < 0.5, `${v.name}: first loss ${v.losses[0]}`);
    }
    for (const v of fused) t.true(v.dispatchesPerStep < unfused.dispatchesPerStep, `${v.name}: ${v.dispatchesPerStep} dispatches per step, unfused ${unfused.dispatchesPerStep}`);
    if (device === 'webgpu') {
      // the build declares the chains' kernels, and the library's (matmul, concat, softmax
      // cross-entropy, the optimizer's update...) join them: all made in the background, so a
      // built run's first step compiles none on demand, while the unbuilt one compiles each
      t.true(unfused.firstStepPipelines.onDemand > 0, 'the unbuilt run compiles its pipelines in its first step');
      t.is(unfused.firstStepCompiled.length, unfused.firstStepPipelines.onDemand, 'the job names every pipeline it counts');
      for (const v of fused) t.deepEqual(v.firstStepCompiled, [], `${v.name}: pipelines compiled on demand in step 1 (unfused: ${unfused.firstStepPipelines.onDemand})`);
      for (const v of fused) t.is(v.firstStepPipelines.onDemand, 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
