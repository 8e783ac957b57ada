// Property test: random elementwise chains under fuse(fn) equal the unfused run, in one dispatch each way (CPU; WebGPU in equivalence-webgpu-*.test.ts).

import test from 'ava';
import { useDevices } from '../helpers.js';
import { declareChains, RUNS, SEED } from './chains.js';

// serial: chunks share the counts they log
const devices = await useDevices(test.serial);
declareChains(devices, 'cpu', SEED, RUNS.cpu, 0, RUNS.cpu);
