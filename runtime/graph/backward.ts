// Reverse-mode backprop over the recorded graph, newest node first (by generation).

import { shapeStr } from '../array/ndarray.js';
import { ones, zeros } from '../array/xp.js';
import { add } from '../ops/arithmetic.js';
import { releasing } from '../array/backend.js';
import { usingConfig } from './config.js';
import { FunctionNode, Variable, VariableNode, registerBackward, type BackwardOptions } from './variable.js';

/**
 * Backprop from `root`. A node runs only after every node that consumed its outputs (higher
 * generation), so each output's gradient is complete when its creator runs. Gradients
 * of intermediates are dropped as soon as they are used, unless `retainGrad`.
 */
export function backward(root: Variable, opts: BackwardOptions = {}): void {
  if (opts.enableDoubleBackprop) {
    // a recorded backward keeps every gradient it makes, since its graph refers to them
    run(root, opts);
    return;
  }
  // Every array backward allocates is an internal gradient except the ones it hands out
  // (.grad of leaves, retained and root gradients): a device that frees early (a GPU) gives
  // the rest back now rather than when the garbage collector gets to them (an error on a later
  // use says scope(), like the arrays scope() gives back: temporaries of the same kind).
  const handedOut = new Set<VariableNode>();
  releasing(() => run(root, opts, handedOut), () => [...handedOut].flatMap((v) => (v.gradVar === null ? [] : [v.gradVar.data.storage])), 'scope()');
}

function run(root: Variable, { retainGrad = false, enableDoubleBackprop = false }: BackwardOptions, handedOut?: Set<VariableNode>): void {
  handedOut?.add(root.node);
  if (root.gradVar === null) {
    if (root.size !== 1) {
      throw new Error(`backward: root has shape ${shapeStr(root.shape)}; set root.grad first for a non-scalar output`);
    }
    root.gradVar = new Variable(ones(root.shape, root.dtype, root.data.device), { requiresGrad: false });
  }
  if (root.creator === null) return;

  // gradients by graph node: output Variables may be long gone, their nodes are not
  const grads = new Map<VariableNode, Variable>([[root.node, root.gradVar]]);
  const queue = new GenerationQueue();
  queue.push(root.creator);

  usingConfig({ enableBackprop: enableDoubleBackprop }, () => {
    for (let f = queue.pop(); f !== undefined; f = queue.pop()) {
      const outputs = f.outputNodes;
      // an output nobody used contributes a zero gradient
      const device = f.inputs[0].data.device;
      const gys = outputs.map((y, i) => grads.get(y) ?? new Variable(zeros(f.outputShapes[i], f.outputDtypes[i], device), { requiresGrad: false }));
      for (const y of outputs) {
        if (y === root.node) continue;
        if (retainGrad) {
          y.gradVar = grads.get(y) ?? null;
          handedOut?.add(y);
        }
        grads.delete(y);
      }
      const inputs = f.inputs;
      const targets = inputs.flatMap((x, i) => (x.requiresGrad ? [i] : []));
      if (targets.length === 0) continue;
      f.checkRetained(targets);
      const gxs = f.backward(targets, gys);
      targets.forEach((i, j) => {
        const gx = gxs[j];
        if (gx === null || gx === undefined) return;
        const x = inputs[i];
        if (gx.shape.length !== x.shape.length || gx.shape.some((n, d) => n !== x.shape[d])) {
          throw new Error(`backward: ${f.label} returned a gradient of shape ${shapeStr(gx.shape)} for input ${i} of shape ${shapeStr(x.shape)}`);
        }
        const node = x.node;
        if (node.creator === null) {
          node.gradVar = node.gradVar === null ? gx : add(node.gradVar, gx);
          handedOut?.add(node);
        } else {
          const prev = grads.get(node);
          grads.set(node, prev === undefined ? gx : add(prev, gx));
          queue.push(node.creator);
        }
      });
    }
  });
}

/** A max-heap of FunctionNodes by generation that ignores repeated pushes. */
class GenerationQueue {
  private heap: FunctionNode[] = [];
  private seen = new Set<FunctionNode>();

  push(f: FunctionNode): void {
    if (this.seen.has(f)) return;
    this.seen.add(f);
    const h = this.heap;
    h.push(f);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (h[p].generation >= h[i].generation) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  pop(): FunctionNode | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && h[l].generation > h[m].generation) m = l;
        if (r < h.length && h[r].generation > h[m].generation) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}

registerBackward(backward);
