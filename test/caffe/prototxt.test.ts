// The text-format reader: the fixture nets against cases.json's JSON, the format's corners, and errors by line.

import { readFileSync } from 'node:fs';
import test from 'ava';
import { parseText, readPrototxt } from '../../runtime/caffe/prototxt.js';
import { NET_PARAMETER } from '../../runtime/caffe/schema.js';
import { normalized } from './caffe-proto.js';
import { sharedFolder } from './caffe-helpers.js';

/** Numbers rounded to float32 (cases.json holds protobuf's float values; text parses to doubles). */
function f32(x: unknown): unknown {
  if (typeof x === 'number') return Math.fround(x);
  if (Array.isArray(x)) return x.map(f32);
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, f32(v)]));
  return x;
}

const caffe1 = sharedFolder(test, 'caffe1_layers');
if (caffe1 !== null) {
  interface Case { name: string; layers: Record<string, unknown>[] }
  const cases = (JSON.parse(readFileSync(`${caffe1}/cases.json`, 'utf8')) as { cases: Case[] }).cases;
  test('prototxt: every caffe1_layers net parses to the layers cases.json lists (protobuf\'s own JSON of the same files)', (t) => {
    t.is(cases.length, 27);
    for (const c of cases) {
      const net = readPrototxt(readFileSync(`${caffe1}/${c.name}.prototxt`, 'utf8'), `${c.name}.prototxt`);
      const layers = net.layers.map((l) => normalized(l.param));
      const expected = c.layers.map(({ blob_shapes: _, ...l }) => l);
      t.deepEqual(f32(layers), f32(expected), c.name);
      // sigmoid and tanh declare their input at the net level (cases.json lists only layers)
      const input = (c as unknown as { inputs: { blob: string; shape: number[] }[] }).inputs[0];
      for (const i of net.inputs) t.deepEqual(i, { name: input.blob, shape: input.shape });
    }
  });
}

test('prototxt: comments, quotes, escapes, adjacent strings, lists, <> messages, colons before messages, number forms', (t) => {
  const text = String.raw`# a comment line
name: 'it''s' "\x41\101\n\t\\\"" # two adjacent strings
input: "data" input_dim: [1, 2, 3, 4];
layer <
  name: "r" type: "ReLU"
  bottom: "data", top: "data"
  relu_param: { negative_slope: -1.5e-1 }
>
layer {
  name: "e" type: "Eltwise" bottom: ["a", "b"] top: "c"
  eltwise_param { operation: PROD coeff: [ inf, -inf, 2.5f, 0x10 ] stable_prod_grad: f }
  phase: 1
  include { phase: TEST min_level: -3 stage: "s" }
}`;
  const net = parseText(text, NET_PARAMETER, 't.prototxt');
  t.is(net.name, "its" + 'A' + 'A\n\t\\"');
  t.deepEqual(net.input_dim, [1, 2, 3, 4]);
  const [r, e] = net.layer!;
  t.deepEqual([r.name, r.type, r.bottom, r.top, r.relu_param?.negative_slope], ['r', 'ReLU', ['data'], ['data'], -0.15]);
  t.deepEqual(e.bottom, ['a', 'b']);
  t.deepEqual(e.eltwise_param?.coeff, [Infinity, -Infinity, 2.5, 16]);
  t.is(e.eltwise_param?.operation, 'PROD');
  t.is(e.eltwise_param?.stable_prod_grad, false);
  t.is(e.phase, 'TEST');
  t.deepEqual(normalized(e.include), [{ phase: 'TEST', min_level: -3, stage: ['s'] }]);
  t.is(e.$at, 9);
  t.is(r.$at, 4);
});

test('prototxt: unknown fields are skipped, nested or not, and listed where they were', (t) => {
  const net = parseText(`
force_backward: true
future_field { a: 1 b { c: "}" } list: [1, 2] }
layer { name: "x" type: "Data" transform_param { scale: 0.5 mean_value: [1, 2] } data_param { source: "db" } top: "data" }
layer { name: "r" type: "ReLU" relu_param { negative_slope: 0 mystery: -inf } }
`, NET_PARAMETER, 'u.prototxt');
  t.deepEqual(net.$unknown, ['future_field']);
  t.deepEqual(net.layer![0].$unknown, ['transform_param', 'data_param']);
  t.deepEqual(net.layer![0].top, ['data']);
  t.deepEqual(net.layer![1].relu_param?.$unknown, ['mystery']);
});

test('prototxt: errors name the file, the line and the column', (t) => {
  const err = (text: string) => t.throws(() => parseText(text, NET_PARAMETER, 'bad.prototxt'))?.message;
  t.is(err('name: "x'), 'bad.prototxt: line 1, column 7: unterminated string');
  t.is(err('layer {\n  name: "a"\n'), "bad.prototxt: line 3, column 1: LayerParameter: missing '}' (the message opened on line 1)");
  t.is(err('layer { pooling_param { pool: SOFT } }'), 'bad.prototxt: line 1, column 31: PoolingParameter.pool: "SOFT" is not a value of enum PoolMethod (MAX, AVE, STOCHASTIC)');
  t.is(err('name: "a"\nname: "b"'), 'bad.prototxt: line 2, column 1: NetParameter.name is not repeated but is given again');
  t.is(err('layer { convolution_param { num_output: -1 } }'), 'bad.prototxt: line 1, column 41: ConvolutionParameter.num_output: -1 is out of range for uint32');
  t.is(err('layer { convolution_param { num_output: 1.5 } }'), 'bad.prototxt: line 1, column 41: ConvolutionParameter.num_output: expected an integer, got "1.5"');
  t.is(err('input_dim: 99999999999999999999999'), 'bad.prototxt: line 1, column 12: NetParameter.input_dim: 99999999999999999999999 is out of range for int64');
  t.is(err('name "x"'), 'bad.prototxt: line 1, column 6: NetParameter.name: expected \':\' after the field name');
  t.is(err('name: [ "x" ]'), 'bad.prototxt: line 1, column 7: NetParameter.name is not repeated, so it takes no list');
  t.is(err('}'), 'bad.prototxt: line 1, column 1: NetParameter: expected a field name, got "}"');
  t.is(err('\n\n  name: @'), 'bad.prototxt: line 3, column 9: unexpected character "@"');
  t.is(err('layer { relu_param { negative_slope: x } }'), 'bad.prototxt: line 1, column 38: ReLUParameter.negative_slope: expected a number, got "x"');
  t.is(err('unknown { a { b '), 'bad.prototxt: line 1, column 1: unknown field unknown: its value never closes');
  // the 65th brace (column 73) is one level too deep
  t.is(err(`unknown ${'{'.repeat(70)}`), 'bad.prototxt: line 1, column 73: unknown field unknown: nested deeper than 64');
});

test('prototxt: net-level inputs: input_shape, input_dim (4 per input), and their mismatches', (t) => {
  t.deepEqual(readPrototxt('input: "a" input: "b" input_shape { dim: 1 dim: 2 } input_shape { dim: 3 }').inputs, [{ name: 'a', shape: [1, 2] }, { name: 'b', shape: [3] }]);
  t.deepEqual(readPrototxt('input: "a" input_dim: 1 input_dim: 2 input_dim: 3 input_dim: 4').inputs, [{ name: 'a', shape: [1, 2, 3, 4] }]);
  t.deepEqual(readPrototxt('input: "a"').inputs, [{ name: 'a', shape: null }]);
  t.throws(() => readPrototxt('input: "a" input_dim: 1 input_dim: 2', 'p.prototxt'), { message: 'p.prototxt: line 1: 1 inputs need 4 input_dim values, got 2' });
  t.throws(() => readPrototxt('input: "a" input: "b" input_shape { dim: 1 }', 'p.prototxt'), { message: 'p.prototxt: line 1: 2 inputs but 1 input_shape entries' });
  t.throws(() => readPrototxt('layer { name: "a" } layers { name: "b" }', 'p.prototxt'), { message: "p.prototxt: line 1: the net has both V1 'layers' (1) and current 'layer' (1) fields; Caffe refuses such a net" });
});
