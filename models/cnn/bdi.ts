import { BDI_FRAMES, BDI_LENGTH, BDI_TAIL_OFFSET, CNN_HIDDEN_SIZE, SERIES_FEATURES } from '../../engine/market/base-data-input.ts';
import { cnnConfig, type CnnConfig } from './config.ts';

/**
 * Returns the CNN config for a packed BaseDataInput row: its [BDI_FRAMES, SERIES_FEATURES] series block
 * starts at offset 0 and everything from BDI_TAIL_OFFSET on is the flat tail, which is exactly the CNN's
 * input layout. The hidden size matches the cnnHidden slot other models read.
 */
export function cnnConfigForBaseDataInput(overrides: Partial<Omit<CnnConfig, 'seqLen' | 'features' | 'tailLen'>> = {}): CnnConfig {
  return cnnConfig({ hidden: CNN_HIDDEN_SIZE, ...overrides, seqLen: BDI_FRAMES, features: SERIES_FEATURES, tailLen: BDI_LENGTH - BDI_TAIL_OFFSET });
}
