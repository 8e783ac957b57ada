// Property test on WebGPU, the second half of the random chains (two files, so that ava compiles them in two processes at once).

import test from 'ava';
import { useDevices } from '../helpers.js';
import { declareChains, RUNS, SEED } from './chains.js';

const devices = await useDevices(test.serial);
declareChains(devices, 'webgpu', SEED, RUNS.webgpu, Math.ceil(RUNS.webgpu / 2), RUNS.webgpu);
