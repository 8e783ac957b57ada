// Seeded pseudo-random numbers: one global stream, so a fixed seed reproduces a whole run.

import { NDArray } from './ndarray.js';
import type { Serializer } from '../serializers/serializer.js';

/** xoshiro128** by Blackman and Vigna: small state, fast, and good enough for ML init. */
export class RandomState {
  private s = new Uint32Array(4);

  constructor(seed = 0) { this.seed(seed); }

  seed(seed: number): void {
    // NaN, 'abc' and 2^53 would all wrap to some uint32 silently: refuse anything else
    if (!Number.isSafeInteger(seed)) {
      throw new Error(`seed: expected a safe integer (|seed| <= 2^53 - 1), got ${typeof seed === 'number' ? seed : `${typeof seed} ${JSON.stringify(seed)}`}`);
    }
    // splitmix32 expands one number into a well-mixed state; the bits above 32 (and the
    // sign) are folded in, so 2^32 + 1 and -1 do not repeat the streams of 1 and 2^32 - 1
    let x = seed >>> 0;
    const high = Math.floor(seed / 4294967296);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      if (high !== 0) x = (x ^ Math.imul(high | 0, 0x85ebca6b) ^ (high < 0 ? 0x5bd1e995 : 0) ^ Math.floor(high / 4294967296)) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** A uint32. */
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform in [0, 1). */
  uniform(): number { return this.nextU32() / 4294967296; }

  /** Standard normal (Box-Muller; one draw per call keeps the stream simple to reason about). */
  normal(): number {
    const u = 1 - this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A Fisher-Yates permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.nextU32() % (i + 1);
      const t = p[i]; p[i] = p[j]; p[j] = t;
    }
    return p;
  }

  /**
   * The generator's 128-bit state as `state`, four int32 (the uint32 words' bits), so that
   * a resumed run draws the numbers the interrupted one would have drawn next.
   */
  serialize(serializer: Serializer): void {
    const words = new Int32Array(this.s.buffer.slice(0));
    serializer.array('state', new NDArray(words, [4]), (loaded) => {
      this.s.set(new Uint32Array(Int32Array.from(loaded.toFlat()).buffer));
    });
  }
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** The global stream used by initializers, dropout and iterators unless given another. */
export const random = new RandomState(0);

/** Reseed the global stream: `seed(0)` at the top of a script makes the run reproducible. */
export function seed(s: number): void { random.seed(s); }
