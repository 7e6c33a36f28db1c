import { InputValidationError } from '../../engine/types/errors.ts';
import { gemmNT, transpose } from './gemm.ts';
import type { Rng } from './rng.ts';

/**
 * A small fully connected network (ReLU hidden layers, linear output) on Float32Array, with its own
 * backward pass and Adam. Hand-written instead of tfjs because, for the DQN's tiny nets, tfjs-wasm
 * pays a fixed cost per op and per tensor that dwarfs the arithmetic (measured in models/dqn/README.md).
 * All parameters live in ONE Float32Array (per layer: W as [out][in] row-major, then b), so copying,
 * soft target updates, gradient clipping, Adam and saving are single loops over one buffer.
 */
export class Mlp {
  readonly sizes: readonly number[];
  readonly params: Float32Array;
  readonly grads: Float32Array;
  private readonly wOff: number[] = [];
  private readonly bOff: number[] = [];
  // Per-layer activations of the last forward (acts[0] is the input), reused across calls.
  private acts: Float32Array[] = [];
  private deltas: Float32Array[] = [];
  private scratchA = new Float32Array(0);
  private scratchB = new Float32Array(0);
  private readonly scratchW: Float32Array;
  private batchCap = 0;
  private lastBatch = 0;

  constructor(sizes: readonly number[], rng: Rng) {
    if (sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new InputValidationError(`MLP sizes must be ≥ 2 positive integers, got [${sizes.join(', ')}]`);
    this.sizes = [...sizes];
    let n = 0;
    for (let l = 0; l + 1 < sizes.length; l++) {
      this.wOff.push(n); n += sizes[l] * sizes[l + 1];
      this.bOff.push(n); n += sizes[l + 1];
    }
    this.params = new Float32Array(n);
    this.grads = new Float32Array(n);
    let maxW = 0;
    for (let l = 0; l + 1 < sizes.length; l++) maxW = Math.max(maxW, sizes[l] * sizes[l + 1]);
    this.scratchW = new Float32Array(maxW);
    // Glorot-uniform weights and zero biases, as Keras Dense defaults.
    for (let l = 0; l + 1 < sizes.length; l++) {
      const lim = Math.sqrt(6 / (sizes[l] + sizes[l + 1]));
      for (let k = 0; k < sizes[l] * sizes[l + 1]; k++) this.params[this.wOff[l] + k] = rng.uniform(-lim, lim);
    }
  }

  get inputSize(): number { return this.sizes[0]; }
  get outputSize(): number { return this.sizes[this.sizes.length - 1]; }

  private ensure(batch: number): void {
    if (batch <= this.batchCap) return;
    this.batchCap = batch;
    this.acts = this.sizes.map((s) => new Float32Array(batch * s));
    this.deltas = this.sizes.map((s) => new Float32Array(batch * s));
    const widest = Math.max(...this.sizes);
    this.scratchA = new Float32Array(batch * widest);
    this.scratchB = new Float32Array(batch * widest);
  }

  /**
   * Returns the outputs [batch, out] for row-major inputs [batch, in]. The returned array is an
   * internal buffer, valid until the next forward; activations are kept for `backward`.
   */
  forward(x: ArrayLike<number>, batch: number): Float32Array {
    const L = this.sizes.length - 1;
    if (x.length < batch * this.sizes[0]) throw new InputValidationError(`MLP input has ${x.length} values, needs ${batch}×${this.sizes[0]}`);
    this.ensure(batch);
    this.lastBatch = batch;
    const a0 = this.acts[0];
    for (let k = 0; k < batch * this.sizes[0]; k++) a0[k] = x[k];
    const p = this.params;
    for (let l = 0; l < L; l++) {
      const nin = this.sizes[l], nout = this.sizes[l + 1];
      const aout = this.acts[l + 1];
      const bo = this.bOff[l];
      gemmNT(this.acts[l], p.subarray(this.wOff[l], bo), aout, batch, nout, nin);
      const relu = l < L - 1;
      for (let b = 0; b < batch; b++) {
        const yo = b * nout;
        for (let j = 0; j < nout; j++) {
          const s = aout[yo + j] + p[bo + j];
          aout[yo + j] = relu && s < 0 ? 0 : s;
        }
      }
    }
    return this.acts[L].subarray(0, batch * this.outputSize);
  }

  /**
   * Writes into `grads` the gradient of the loss whose derivative with respect to
   * the last forward's outputs is `dOut` [batch, out].
   */
  backward(dOut: ArrayLike<number>): void {
    const L = this.sizes.length - 1;
    const batch = this.lastBatch;
    const p = this.params, g = this.grads;
    const top = this.deltas[L];
    for (let k = 0; k < batch * this.outputSize; k++) top[k] = dOut[k];
    for (let l = L - 1; l >= 0; l--) {
      const nin = this.sizes[l], nout = this.sizes[l + 1];
      const ain = this.acts[l], dout = this.deltas[l + 1];
      const wo = this.wOff[l], bo = this.bOff[l];
      // dW[nout×nin] = dZᵀ·A_in and dA_in[batch×nin] = dZ·W, both as C = X·Yᵀ on transposed copies.
      transpose(dout, this.scratchA, batch, nout);
      transpose(ain, this.scratchB, batch, nin);
      gemmNT(this.scratchA, this.scratchB, g.subarray(wo, bo), nout, nin, batch);
      for (let j = 0; j < nout; j++) {
        let s = 0;
        for (let b = 0; b < batch; b++) s += dout[b * nout + j];
        g[bo + j] = s;
      }
      if (l === 0) break;
      const din = this.deltas[l];
      transpose(p.subarray(wo, bo), this.scratchW, nout, nin);
      gemmNT(dout, this.scratchW, din, batch, nin, nout);
      // ReLU derivative of the layer below: its stored activation is 0 exactly where it was clipped.
      for (let k = 0; k < batch * nin; k++) if (ain[k] <= 0) din[k] = 0;
    }
  }

  /** Scales `grads` so their global L2 norm is at most maxNorm; returns the norm before clipping. */
  clipGradNorm(maxNorm: number): number {
    let ss = 0;
    for (let k = 0; k < this.grads.length; k++) ss += this.grads[k] * this.grads[k];
    const norm = Math.sqrt(ss);
    if (norm > maxNorm) {
      const s = maxNorm / norm;
      for (let k = 0; k < this.grads.length; k++) this.grads[k] *= s;
    }
    return norm;
  }

  /** Copies another network's parameters (same shape) into this one. */
  copyFrom(other: Mlp): void {
    this.checkShape(other);
    this.params.set(other.params);
  }

  /** Moves parameters toward another network's: θ ← τ·θ_other + (1 − τ)·θ. */
  softUpdateFrom(other: Mlp, tau: number): void {
    this.checkShape(other);
    const a = this.params, b = other.params;
    for (let k = 0; k < a.length; k++) a[k] += tau * (b[k] - a[k]);
  }

  /** Replaces all parameters with a saved vector of the same length. */
  setParams(values: Float32Array): void {
    if (values.length !== this.params.length) throw new InputValidationError(`parameter vector has ${values.length} values, network [${this.sizes.join(', ')}] has ${this.params.length}`);
    this.params.set(values);
  }

  private checkShape(other: Mlp): void {
    if (other.sizes.join(',') !== this.sizes.join(',')) throw new InputValidationError(`network shapes differ: [${other.sizes.join(', ')}] vs [${this.sizes.join(', ')}]`);
  }
}

/** Adam optimiser (Kingma & Ba) over an MLP's flat parameter and gradient buffers. */
export class Adam {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;

  constructor(private readonly net: Mlp, public lr: number, private readonly beta1 = 0.9, private readonly beta2 = 0.999, private readonly eps = 1e-7) {
    this.m = new Float32Array(net.params.length);
    this.v = new Float32Array(net.params.length);
  }

  /** Applies one update from the network's current gradients. */
  step(): void {
    this.t++;
    const { params: p, grads: g } = this.net;
    const { m, v, beta1: b1, beta2: b2 } = this;
    const lrT = this.lr * Math.sqrt(1 - Math.pow(b2, this.t)) / (1 - Math.pow(b1, this.t));
    for (let k = 0; k < p.length; k++) {
      m[k] = b1 * m[k] + (1 - b1) * g[k];
      v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
      p[k] -= lrT * m[k] / (Math.sqrt(v[k]) + this.eps);
    }
  }
}
