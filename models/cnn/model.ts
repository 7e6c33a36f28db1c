import * as tf from '@tensorflow/tfjs';
import { InputValidationError } from '../../engine/types/errors.ts';
import { ACTIONS, type Action } from '../../engine/messages/signals.ts';
import { cnnConfig, cnnInputSize, denseInputSize, type CnnConfig } from './config.ts';
import type { NamedWeights } from './weights-read.ts';

let nextInstance = 0;

/** One named weight tensor as plain floats (save/load, ONNX export); defined beside the tfjs-free reader. */
export type { NamedWeights };

/** Batch outputs: `probs` is [batch, classes] in ACTIONS order, `hidden` is [batch, hidden], both row-major. */
export interface CnnPrediction { readonly probs: Float32Array; readonly hidden: Float32Array; readonly batch: number }

/**
 * Multi-scale 1-D CNN over a [seqLen, features] series plus a flat tail, written with tf.variables and
 * im2col (slice + concat + matMul) convolutions so it trains on tfjs-wasm, which has no conv filter gradients.
 *
 * series -> conv k5 d1 -> relu -> conv k5 d2 -> relu; each conv output mean-pooled over time;
 * [pooled..., tail] -> dense(hidden) -> relu = `hidden` -> dense(classes) -> softmax = `probs`.
 */
export class CnnModel {
  readonly config: CnnConfig;
  private readonly vars: Map<string, tf.Variable>;
  private readonly optimizer: tf.Optimizer;
  private steps = 0;

  constructor(config: Parameters<typeof cnnConfig>[0], weights?: readonly NamedWeights[]) {
    this.config = cnnConfig(config);
    this.vars = new Map();
    const shapes = weightShapes(this.config);
    const given = new Map((weights ?? []).map((w) => [w.name, w]));
    // tfjs variable names are process-global: give each model instance its own prefix.
    const instance = nextInstance++;
    let i = 0;
    for (const [name, shape] of shapes) {
      const w = given.get(name);
      let init: tf.Tensor;
      if (weights) {
        if (!w) throw new InputValidationError(`CNN weights: missing tensor '${name}'`);
        if (w.shape.join('x') !== shape.join('x')) throw new InputValidationError(`CNN weights: '${name}' has shape [${w.shape}], expected [${shape}]`);
        init = tf.tensor(w.data, shape);
      } else if (name.endsWith('.b')) {
        init = tf.zeros(shape);
      } else {
        // Glorot uniform: fan-in and fan-out of the matMul the weight takes part in.
        const limit = Math.sqrt(6 / (shape[0] + shape[1]));
        init = tf.randomUniform(shape, -limit, limit, 'float32', this.config.seed * 1000 + i);
      }
      this.vars.set(name, tf.variable(init, true, `cnn${instance}/${name}`));
      init.dispose();
      i++;
    }
    if (weights && given.size !== shapes.length) {
      const extra = [...given.keys()].filter((n) => !shapes.some(([s]) => s === n));
      throw new InputValidationError(`CNN weights: unexpected tensors ${extra.join(', ')}`);
    }
    this.optimizer = tf.train.adam(this.config.learningRate);
  }

  /** Returns the number of optimizer steps taken since construction. */
  get trainedSteps(): number {
    return this.steps;
  }

  /** Returns logits and the hidden vector for a [batch, inputSize] tensor (call inside tf.tidy). */
  forward(x: tf.Tensor2D): { logits: tf.Tensor2D; hidden: tf.Tensor2D } {
    const c = this.config;
    const b = x.shape[0];
    const seriesLen = c.seqLen * c.features;
    let h: tf.Tensor3D = tf.reshape(tf.slice(x, [0, 0], [b, seriesLen]), [b, c.seqLen, c.features]);
    const pooled: tf.Tensor2D[] = [];
    c.dilations.forEach((d, layer) => {
      h = tf.relu(conv1dIm2col(h, this.v(`conv${layer}.w`), this.v(`conv${layer}.b`), c.kernel, d));
      pooled.push(tf.mean(h, 1));
    });
    if (c.tailLen > 0) pooled.push(tf.slice(x, [0, seriesLen], [b, c.tailLen]));
    const z = pooled.length === 1 ? pooled[0] : tf.concat(pooled, 1);
    const hidden = tf.relu(tf.add(tf.matMul(z, this.v('dense.w')), this.v('dense.b'))) as tf.Tensor2D;
    const logits = tf.add(tf.matMul(hidden, this.v('out.w')), this.v('out.b')) as tf.Tensor2D;
    return { logits, hidden };
  }

  /** Returns class probabilities and hidden vectors for `batch` flat samples. */
  predict(x: Float32Array, batch = 1): CnnPrediction {
    const input = this.checkInput(x, batch);
    const [probs, hidden] = tf.tidy(() => {
      const out = this.forward(tf.tensor2d(input, [batch, cnnInputSize(this.config)]));
      return [tf.softmax(out.logits), out.hidden];
    });
    const result = { probs: probs.dataSync() as Float32Array, hidden: hidden.dataSync() as Float32Array, batch };
    probs.dispose();
    hidden.dispose();
    return result;
  }

  /** Takes one Adam step on softmax cross-entropy against class indices (ACTIONS order); returns the batch loss before the step. */
  trainStep(x: Float32Array, labels: ArrayLike<number>, batch = labels.length): number {
    if (labels.length !== batch) throw new InputValidationError(`CNN trainStep: ${labels.length} labels for a batch of ${batch}`);
    for (let i = 0; i < batch; i++) {
      const l = labels[i];
      if (!Number.isInteger(l) || l < 0 || l >= this.config.classes) throw new InputValidationError(`CNN trainStep: label ${l} at ${i} is not a class index in [0, ${this.config.classes})`);
    }
    const input = this.checkInput(x, batch);
    const loss = tf.tidy(() => {
      const xt = tf.tensor2d(input, [batch, cnnInputSize(this.config)]);
      const yt = tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), this.config.classes);
      const l = this.optimizer.minimize(() => tf.losses.softmaxCrossEntropy(yt, this.forward(xt).logits) as tf.Scalar, true, [...this.vars.values()]);
      if (!l) throw new Error('CNN trainStep: optimizer returned no loss');
      return l;
    });
    const value = loss.dataSync()[0];
    loss.dispose();
    this.steps++;
    return value;
  }

  /** Returns copies of every weight in a fixed order. */
  weights(): NamedWeights[] {
    return [...this.vars].map(([name, v]) => ({ name, shape: v.shape, data: v.dataSync() as Float32Array }));
  }

  /** Frees the tensors and optimizer state. */
  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.optimizer.dispose();
  }

  private v(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`CNN: no weight '${name}'`);
    return v;
  }

  private checkInput(x: Float32Array, batch: number): Float32Array {
    const size = cnnInputSize(this.config);
    if (!Number.isInteger(batch) || batch < 1) throw new InputValidationError(`CNN input: batch must be a positive integer, got ${batch}`);
    if (x.length !== batch * size) throw new InputValidationError(`CNN input: expected ${batch} x ${size} = ${batch * size} floats, got ${x.length}`);
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i])) throw new InputValidationError(`CNN input: non-finite value ${x[i]} at sample ${Math.floor(i / size)}, offset ${i % size}`);
    }
    return x;
  }
}

/** Returns the name and shape of every weight, in storage order. */
export function weightShapes(c: CnnConfig): [string, number[]][] {
  const out: [string, number[]][] = [];
  c.dilations.forEach((_, layer) => {
    const cin = layer === 0 ? c.features : c.channels;
    out.push([`conv${layer}.w`, [c.kernel * cin, c.channels]], [`conv${layer}.b`, [c.channels]]);
  });
  out.push(['dense.w', [denseInputSize(c), c.hidden]], ['dense.b', [c.hidden]]);
  out.push(['out.w', [c.hidden, c.classes]], ['out.b', [c.classes]]);
  return out;
}

/**
 * Valid-padding 1-D convolution as im2col + matMul. `w` is [kernel * cin, cout] where row i * cin + c
 * multiplies input channel c at time t + i * dilation (cross-correlation, as ONNX Conv and tf.conv1d).
 */
export function conv1dIm2col(x: tf.Tensor3D, w: tf.Tensor, bias: tf.Tensor, kernel: number, dilation: number): tf.Tensor3D {
  const [b, t, cin] = x.shape;
  const tOut = t - (kernel - 1) * dilation;
  const cols = tf.concat(Array.from({ length: kernel }, (_, i) => tf.slice(x, [0, i * dilation, 0], [b, tOut, cin])), 2);
  const y = tf.add(tf.matMul(tf.reshape(cols, [b * tOut, kernel * cin]), w), bias);
  return tf.reshape(y, [b, tOut, w.shape[1] as number]);
}

/** Returns the action and confidence (max probability) of sample `i` of a prediction. */
export function decodeAction(p: CnnPrediction, i = 0): { action: Action; confidence: number; probabilities: [number, number, number] } {
  const row = p.probs.subarray(i * ACTIONS.length, (i + 1) * ACTIONS.length);
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
  return { action: ACTIONS[best], confidence: row[best], probabilities: [row[0], row[1], row[2]] };
}
