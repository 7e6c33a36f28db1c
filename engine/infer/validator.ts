// InferenceDataValidator: checks a model input before it is run. Shapes are compared with what the model expects and
// every value must be finite; a refusal names what was expected, what was found, and for a NaN or infinity the
// feature it sits in (through the BaseDataInput feature map), so a broken indicator is found by name, not by offset.
import {
  BDI_LENGTH, BDI_SECTIONS, BDI_FRAMES, BDI_MODEL_SLOTS, COB_STAT_NAMES, FEATURES_PER_SERIES, MODEL_FEATURE_NAMES,
  PIVOT_FEATURE_NAMES, QUALITY_NAMES, SERIES_FEATURE_NAMES, SERIES_NAMES, type BdiSectionName,
} from '../market/base-data-input.ts';
import { InputValidationError } from '../types/errors.ts';

/** What a model expects of its input: a name for messages, the dims without the batch axis, and a namer of offsets. */
export interface InputSpec {
  readonly name: string;
  readonly dims: readonly number[];
  readonly describe?: (index: number) => string;
}

/** The verdict on one input; `code` is stable. */
export type InputCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: 'INPUT_SHAPE' | 'INPUT_NON_FINITE'; readonly message: string };

const OK: InputCheck = { ok: true };

/** Returns whether `data` (with `dims`, default flat) fits `spec`: the same dims and only finite values. */
export function checkInput(spec: InputSpec, data: Float32Array, dims: readonly number[] = [data.length]): InputCheck {
  const want = spec.dims.reduce((a, b) => a * b, 1);
  if (dims.length !== spec.dims.length || dims.some((d, i) => d !== spec.dims[i]) || data.length !== want) {
    return { ok: false, code: 'INPUT_SHAPE', message: `${spec.name} input: expected shape [${spec.dims.join(', ')}] (${want} values), got [${dims.join(', ')}] (${data.length} values)` };
  }
  if (allFinite(data)) return OK;
  let bad = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // v - v is 0 for every finite float and NaN for NaN and ±Infinity: one comparison per value.
    if (v - v !== 0) {
      if (first < 0) first = i;
      bad++;
    }
  }
  const where = spec.describe ? ` (${spec.describe(first)})` : '';
  return { ok: false, code: 'INPUT_NON_FINITE', message: `${spec.name} input: expected finite values, found ${bad} non-finite; first at ${first}${where}: ${data[first]}` };
}

// v - v is +0 for every finite float and NaN for NaN and ±Infinity, and a NaN stays NaN through a sum: the sums are 0
// exactly when every value is finite. Four independent sums and no branch per value run about twice as fast as the
// counting loop, which then only runs on a refusal (to count and place the bad values).
function allFinite(data: Float32Array): boolean {
  const n = data.length;
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const v0 = data[i]!;
    const v1 = data[i + 1]!;
    const v2 = data[i + 2]!;
    const v3 = data[i + 3]!;
    a0 += v0 - v0;
    a1 += v1 - v1;
    a2 += v2 - v2;
    a3 += v3 - v3;
  }
  for (; i < n; i++) {
    const v = data[i]!;
    a0 += v - v;
  }
  return a0 + a1 + a2 + a3 === 0;
}

/** Throws InputValidationError with the check's message when `data` does not fit `spec`. */
export function assertInput(spec: InputSpec, data: Float32Array, dims?: readonly number[]): void {
  const c = checkInput(spec, data, dims);
  if (!c.ok) throw new InputValidationError(c.message);
}

const SECTION_ORDER = (Object.keys(BDI_SECTIONS) as BdiSectionName[]).sort((a, b) => BDI_SECTIONS[a].offset - BDI_SECTIONS[b].offset);

/** Returns the feature-map name of offset `i` of a BaseDataInput, e.g. `series frame 41 primary1m.close`. */
export function describeBdiIndex(i: number): string {
  const name = SECTION_ORDER.find((s) => i >= BDI_SECTIONS[s].offset && i < BDI_SECTIONS[s].offset + BDI_SECTIONS[s].length);
  if (!name) return `offset ${i} outside the BaseDataInput`;
  const k = i - BDI_SECTIONS[name].offset;
  switch (name) {
    case 'series': {
      const frame = Math.floor(k / (SERIES_NAMES.length * FEATURES_PER_SERIES));
      const col = k % (SERIES_NAMES.length * FEATURES_PER_SERIES);
      return `series frame ${frame} of ${BDI_FRAMES} ${SERIES_NAMES[Math.floor(col / FEATURES_PER_SERIES)]}.${SERIES_FEATURE_NAMES[col % FEATURES_PER_SERIES]}`;
    }
    case 'cobStats': return `cobStats.${COB_STAT_NAMES[k]}`;
    case 'pivots': return `pivots level ${Math.floor(k / PIVOT_FEATURE_NAMES.length) + 1} ${PIVOT_FEATURE_NAMES[k % PIVOT_FEATURE_NAMES.length]}`;
    case 'models': return `models ${BDI_MODEL_SLOTS[Math.floor(k / MODEL_FEATURE_NAMES.length)]}.${MODEL_FEATURE_NAMES[k % MODEL_FEATURE_NAMES.length]}`;
    case 'quality': return `quality.${QUALITY_NAMES[k]}`;
    default: return `${name}[${k}]`;
  }
}

/** The BaseDataInput every model receives from the coordinator. */
export const BDI_INPUT_SPEC: InputSpec = { name: 'BaseDataInput', dims: [BDI_LENGTH], describe: describeBdiIndex };
