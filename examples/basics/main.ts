// Chainer's first example (slide 24): record z = x^2 + 2xy + y, backprop, read the gradients.
// Prints z, gx and gy; with --dot, prints instead the recorded graph in Graphviz DOT
// (`npx tsx examples/basics/main.ts --dot | dot -Tpng -o graph.png`).

import { Variable, array, buildComputationalGraph } from 'kusari';

const x = new Variable(array(1), { name: 'x' });
const y = new Variable(array(1), { name: 'y' });

// z = x**2 + 2*x*y + y; each call runs now and records one node of the graph
const z = x.pow(2).add(x.mul(2).mul(y)).add(y);
z.name = 'z';

z.backward();  // dz/dx = 2x + 2y = 4, dz/dy = 2x + 1 = 3

if (process.argv.includes('--dot')) {
  console.log(buildComputationalGraph([z]));
} else {
  console.log(`z = ${z.data.itemSync()}`);
  console.log(`gx = ${x.grad!.itemSync()}`);
  console.log(`gy = ${y.grad!.itemSync()}`);
}
