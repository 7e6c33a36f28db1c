import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ProtoWriter } from '../../models/onnx/protobuf.ts';
import { OnnxGraphBuilder } from '../../models/onnx/graph.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('ProtoWriter', () => {
  it.each([
    [0, '00'],
    [1, '01'],
    [150, '9601'],
    [300, 'ac02'],
    [2 ** 31, '8080808008'],
    [-1, 'ffffffffffffffffff01'],
    [-2n, 'feffffffffffffffff01'],
  ])('encodes varint %s as the protobuf spec does', (v, want) => {
    expect(hex(new ProtoWriter().varint(v).finish())).toBe(want);
  });

  it('writes tags, length-delimited strings, nested messages and little-endian floats', () => {
    const w = new ProtoWriter().int(1, 150).string(2, 'testing').message(3, (m) => m.int(1, 150)).float(4, 1.5);
    // Field 1 varint: 08 96 01; field 2 len: 12 07 "testing"; field 3 len: 1a 03 08 96 01; field 4 i32: 25 0000c03f.
    expect(hex(w.finish())).toBe('089601' + '1207' + Buffer.from('testing').toString('hex') + '1a03089601' + '250000c03f');
  });

  it('refuses a float passed as a varint', () => {
    expect(() => new ProtoWriter().varint(1.5)).toThrow(/not a safe integer/);
  });
});

describe('OnnxGraphBuilder', () => {
  it('builds a MatMul + Add + Relu graph that ONNX Runtime runs with the expected values', async () => {
    const g = new OnnxGraphBuilder('tiny');
    const x = g.input('x', ['batch', 2]);
    const w = g.floatTensor('w', [2, 3], Float32Array.from([1, -1, 2, 0.5, 1, -3]));
    const b = g.floatTensor('b', [3], Float32Array.from([0, 0.25, 1]));
    const [mm] = g.node('MatMul', [x, w]);
    const [add] = g.node('Add', [mm, b]);
    g.node('Relu', [add], ['y']);
    g.output('y', ['batch', 3]);
    const s = await ort.InferenceSession.create(g.toBytes());
    const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, -1, 0]), [2, 2]) });
    // Row 1: [1+1, -1+2+0.25, 2-6+1] -> relu [2, 1.25, 0]; row 2: [-1, 1.25, -1] -> [0, 1.25, 0].
    expect(Array.from(out.y.data as Float32Array)).toEqual([2, 1.25, 0, 0, 1.25, 0]);
    expect(out.y.dims).toEqual([2, 3]);
  });

  it('rejects a node reading an undefined value, a duplicate name and mis-sized weights', () => {
    const g = new OnnxGraphBuilder('bad');
    g.input('x', [1]);
    expect(() => g.node('Relu', ['nope'])).toThrow(/input 'nope' is not defined/);
    expect(() => g.input('x', [1])).toThrow(/defined twice/);
    expect(() => g.floatTensor('w', [2, 2], new Float32Array(3))).toThrow(/hold 4 values, data has 3/);
    expect(() => g.output('y', [1])).toThrow(/not produced/);
  });
});
