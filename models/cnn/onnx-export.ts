import { writeFile } from 'node:fs/promises';
import { OnnxGraphBuilder } from '../onnx/graph.ts';
import { cnnInputSize, denseInputSize, type CnnConfig } from './config.ts';
import type { NamedWeights } from './model.ts';

/** Names of the ONNX graph's input and outputs. */
export const CNN_ONNX_IO = { input: 'x', probs: 'probs', hidden: 'hidden' } as const;

/**
 * Returns an ONNX model (opset 17) computing exactly what CnnModel.forward + softmax computes:
 * input `x` [batch, seqLen*features + tailLen] -> outputs `probs` [batch, classes] and `hidden` [batch, hidden].
 * The im2col convolutions become native Conv nodes (ONNX Runtime's fastest path) on a [batch, features, time] layout.
 */
export function cnnToOnnx(config: CnnConfig, weights: readonly NamedWeights[], version = 'unversioned'): Uint8Array {
  const c = config;
  const w = new Map(weights.map((t) => [t.name, t]));
  const get = (name: string): NamedWeights => {
    const t = w.get(name);
    if (!t) throw new Error(`CNN ONNX export: weight '${name}' missing`);
    return t;
  };
  const g = new OnnxGraphBuilder('cobalt_cnn');
  const seriesLen = c.seqLen * c.features;
  const x = g.input(CNN_ONNX_IO.input, ['batch', cnnInputSize(c)]);

  let series = x;
  let tail: string | undefined;
  if (c.tailLen > 0) {
    const axis = g.int64Tensor('axis1', [1]);
    [series] = g.node('Slice', [x, g.int64Tensor('series_start', [0]), g.int64Tensor('series_end', [seriesLen]), axis]);
    [tail] = g.node('Slice', [x, g.int64Tensor('tail_start', [seriesLen]), g.int64Tensor('tail_end', [seriesLen + c.tailLen]), axis]);
  }
  const [btf] = g.node('Reshape', [series, g.int64Tensor('series_shape', [-1, c.seqLen, c.features])]);
  let [h] = g.node('Transpose', [btf], 1, { perm: [0, 2, 1] });

  const pooled: string[] = [];
  c.dilations.forEach((d, layer) => {
    const cin = layer === 0 ? c.features : c.channels;
    const kernel = g.floatTensor(`conv${layer}_w`, [c.channels, cin, c.kernel], im2colToConvWeight(get(`conv${layer}.w`).data, c.kernel, cin, c.channels));
    const bias = g.floatTensor(`conv${layer}_b`, [c.channels], get(`conv${layer}.b`).data);
    const [conv] = g.node('Conv', [h, kernel, bias], 1, { kernel_shape: [c.kernel], dilations: [d], strides: [1], pads: [0, 0] });
    [h] = g.node('Relu', [conv]);
    pooled.push(g.node('ReduceMean', [h], 1, { axes: [2], keepdims: 0 })[0]);
  });
  if (tail) pooled.push(tail);
  const z = pooled.length === 1 ? pooled[0] : g.node('Concat', pooled, 1, { axis: 1 })[0];

  const denseW = g.floatTensor('dense_w', [denseInputSize(c), c.hidden], get('dense.w').data);
  const denseB = g.floatTensor('dense_b', [c.hidden], get('dense.b').data);
  const [pre] = g.node('Gemm', [z, denseW, denseB]);
  g.node('Relu', [pre], [CNN_ONNX_IO.hidden]);
  const outW = g.floatTensor('out_w', [c.hidden, c.classes], get('out.w').data);
  const outB = g.floatTensor('out_b', [c.classes], get('out.b').data);
  const [logits] = g.node('Gemm', [CNN_ONNX_IO.hidden, outW, outB]);
  g.node('Softmax', [logits], [CNN_ONNX_IO.probs], { axis: 1 });

  g.output(CNN_ONNX_IO.probs, ['batch', c.classes]);
  g.output(CNN_ONNX_IO.hidden, ['batch', c.hidden]);
  return g.toBytes({ producer: 'cobalt.cnn', producerVersion: version, doc: JSON.stringify({ config: c, version }) });
}

/** Writes the ONNX export of a CNN to `file`. */
export async function writeCnnOnnx(file: string, config: CnnConfig, weights: readonly NamedWeights[], version?: string): Promise<void> {
  await writeFile(file, cnnToOnnx(config, weights, version));
}

/** Rearranges an im2col weight [kernel * cin, cout] (row i * cin + c) into ONNX Conv's [cout, cin, kernel]. */
export function im2colToConvWeight(w: Float32Array, kernel: number, cin: number, cout: number): Float32Array {
  if (w.length !== kernel * cin * cout) throw new Error(`conv weight has ${w.length} values, expected ${kernel} x ${cin} x ${cout}`);
  const out = new Float32Array(w.length);
  for (let i = 0; i < kernel; i++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let o = 0; o < cout; o++) out[(o * cin + ci) * kernel + i] = w[(i * cin + ci) * cout + o];
    }
  }
  return out;
}
