// Sequential: links and plain functions applied one after another (Chainer's chainer.Sequential).

import { type Variable, type VariableLike, argVariable } from '../graph/variable.js';
import { Link } from './link.js';

/** One layer: a link with a one-argument forward, or a function of one Variable (F.relu). */
export type Layer = (Link & { forward(x: VariableLike): Variable }) | ((x: Variable) => Variable);

/**
 * y = layers[n-1](... layers[0](x)). Links among the layers are its children, named by
 * their position ('0', '2', ...), so their parameters are found, saved and moved.
 *
 * ```ts
 * const mlp = new L.Sequential(new L.Linear(784, 100), F.relu, new L.Linear(100, 10));
 * ```
 */
export class Sequential extends Link {
  private readonly layers: Layer[] = [];

  constructor(...layers: Layer[]) {
    super();
    layers.forEach((l) => this.append(l));
  }

  append(layer: Layer): this {
    if (!(layer instanceof Link) && typeof layer !== 'function') {
      throw new Error(`Sequential: layer ${this.layers.length} must be a Link or a function, got ${layer === null ? 'null' : typeof layer}`);
    }
    if (layer instanceof Link) layer.name = String(this.layers.length);
    this.layers.push(layer);
    return this;
  }

  get length(): number { return this.layers.length; }

  at(i: number): Layer {
    const l = this.layers[i < 0 ? i + this.layers.length : i];
    if (l === undefined) throw new Error(`Sequential: index ${i} out of range for ${this.layers.length} layers`);
    return l;
  }

  override *children(): Generator<[string, Link]> {
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i];
      if (l instanceof Link) yield [String(i), l];
    }
  }

  forward(x: VariableLike): Variable {
    if (this.layers.length === 0) throw new Error('Sequential: no layers to apply');
    let h = argVariable(x, 'Sequential', 'x');
    for (const l of this.layers) h = l instanceof Link ? l.forward(h) : l(h);
    return h;
  }
}
