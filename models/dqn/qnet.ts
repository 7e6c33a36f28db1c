import { InputValidationError } from '../../engine/types/errors.ts';
import { gemmNT } from './gemm.ts';

/**
 * An inference-only Q-network: the weights of an `Mlp` (same layout: per layer W as [out][in] row-major, then b) and
 * one activation buffer per layer, nothing else. A registry runner needs only Q(s, ·); a full DqnAgent would also keep
 * its target network, optimiser and replay (a 50,000-slot replay alone is ~35 MB) for every version kept.
 * The forward pass is Mlp.forward's at batch 1 (the same gemmNT), so both give the same Q-values to the bit.
 */
export class QNetwork {
  readonly sizes: readonly number[];
  readonly params: Float32Array;
  private readonly acts: Float32Array[];
  private readonly wOff: number[] = [];
  private readonly bOff: number[] = [];

  constructor(sizes: readonly number[], params: Float32Array) {
    if (sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new InputValidationError(`Q-network sizes must be ≥ 2 positive integers, got [${sizes.join(', ')}]`);
    let n = 0;
    for (let l = 0; l + 1 < sizes.length; l++) {
      this.wOff.push(n); n += sizes[l]! * sizes[l + 1]!;
      this.bOff.push(n); n += sizes[l + 1]!;
    }
    if (params.length !== n) throw new InputValidationError(`Q-network weights hold ${params.length} values, a [${sizes.join(', ')}] network has ${n}`);
    this.sizes = [...sizes];
    this.params = params.slice();
    this.acts = sizes.map((s) => new Float32Array(s));
  }

  /** State length the network takes. */
  get stateSize(): number { return this.sizes[0]!; }

  /** Returns Q(s, ·) (a fresh array). */
  qValues(state: ArrayLike<number>): Float32Array {
    if (state.length !== this.stateSize) throw new InputValidationError(`state has ${state.length} values, the Q-network expects ${this.stateSize}`);
    const L = this.sizes.length - 1;
    const a0 = this.acts[0]!;
    for (let k = 0; k < a0.length; k++) a0[k] = state[k]!;
    const p = this.params;
    for (let l = 0; l < L; l++) {
      const nin = this.sizes[l]!, nout = this.sizes[l + 1]!;
      const out = this.acts[l + 1]!;
      const bo = this.bOff[l]!;
      gemmNT(this.acts[l]!, p.subarray(this.wOff[l], bo), out, 1, nout, nin);
      const relu = l < L - 1;
      for (let j = 0; j < nout; j++) {
        const s = out[j]! + p[bo + j]!;
        out[j] = relu && s < 0 ? 0 : s;
      }
    }
    return this.acts[L]!.slice();
  }
}
