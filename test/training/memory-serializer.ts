// An in-memory Serializer pair for tests: save to a Map, load back with checks before any assignment.

import { NDArray, shapeStr } from '../../runtime/array/ndarray.js';
import type { Serializable, Serializer } from '../../runtime/serializers/serializer.js';

export type Stored = Map<string, NDArray | number>;

class Saver implements Serializer {
  readonly loading = false;
  constructor(private readonly out: Stored, private readonly prefix = '') {}
  child(name: string): Serializer { return new Saver(this.out, `${this.prefix}${name}/`); }
  array(key: string, current: NDArray | null): void {
    if (current === null) throw new Error(`save: ${this.prefix}${key} is null`);
    this.out.set(this.prefix + key, new NDArray(current.toFlat(), current.shape));
  }
  number(key: string, current: number): void { this.out.set(this.prefix + key, current); }
}

class Loader implements Serializer {
  readonly loading = true;
  constructor(private readonly from: Stored, private readonly pending: (() => void)[], private readonly prefix = '') {}
  child(name: string): Serializer { return new Loader(this.from, this.pending, `${this.prefix}${name}/`); }
  array(key: string, current: NDArray | null, assign: (a: NDArray) => void): void {
    const v = this.from.get(this.prefix + key);
    if (!(v instanceof NDArray)) throw new Error(`load: no array ${this.prefix}${key}`);
    if (current !== null && (v.dtype !== current.dtype || shapeStr(v.shape) !== shapeStr(current.shape))) {
      throw new Error(`load: ${this.prefix}${key} is ${shapeStr(v.shape)} ${v.dtype}, expected ${shapeStr(current.shape)} ${current.dtype}`);
    }
    this.pending.push(() => assign(v));
  }
  number(key: string, _current: number, assign: (v: number) => void): void {
    const v = this.from.get(this.prefix + key);
    if (typeof v !== 'number') throw new Error(`load: no number ${this.prefix}${key}`);
    this.pending.push(() => assign(v));
  }
}

export function saveToMap(target: Serializable): Stored {
  const out: Stored = new Map();
  target.serialize(new Saver(out));
  return out;
}

export function loadFromMap(stored: Stored, target: Serializable): void {
  const pending: (() => void)[] = [];
  target.serialize(new Loader(stored, pending));
  for (const assign of pending) assign();
}
