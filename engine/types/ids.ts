import { hash } from 'node:crypto';

/** Identifies an order intent from a strategy through risk to the executor. */
export type IntentId = string & { readonly __id: 'intent' };
/** Client order id sent to the venue; idempotent across retries and restarts. */
export type ClientOrderId = string & { readonly __id: 'clientOrder' };
/** The venue's own order id. */
export type VenueOrderId = string & { readonly __id: 'venueOrder' };

/** Returns a branded intent id. */
export const intentId = (s: string): IntentId => s as IntentId;
/** Returns a branded client order id; Binance allows `^[.A-Z:/a-z0-9_-]{1,36}$`. */
export const clientOrderId = (s: string): ClientOrderId => s as ClientOrderId;
/** Returns a branded venue order id. */
export const venueOrderId = (s: string): VenueOrderId => s as VenueOrderId;

/** Starts the intent id of every exit the RiskManager builds (exitIntent); the executor's isRiskExit keeps those working through a halt. */
export const RISK_EXIT_PREFIX = 'risk-';

/** Starts the client id the engine gives an order it did not place (`venue-<orderId>`): the executor adopting one, the ccxt adapter listing one without a client id. */
export const ADOPTED_ORDER_PREFIX = 'venue-';

/**
 * Returns the client order id of an intent: deterministic (the same intent always maps to the same id, across
 * retries and restarts) and inside Binance's charset `^[.A-Z:/a-z0-9_-]{1,36}$` (we use only `[A-Za-z0-9_-]`, which
 * MEXC and the simulator accept too): `cb` + 24 base64url characters of SHA-256(intent id), 144 bits.
 */
export function clientOrderIdFor(intentId: string): ClientOrderId {
  // The same intent's id is asked for back to back (the executor and the alerts webhook on each approval, the
  // RiskManager and the executor on each of its own exits): the last few are kept, and crypto.hash (one call, the same
  // digest) is ~3x a Hash object's speed.
  const hit = recentIds.get(intentId);
  if (hit !== undefined) return hit;
  const id = clientOrderId(`cb${hash('sha256', intentId, 'base64url').slice(0, 24)}`);
  if (recentIds.size >= RECENT_IDS) recentIds.delete(recentIds.keys().next().value!);
  recentIds.set(intentId, id);
  return id;
}

const RECENT_IDS = 64;
const recentIds = new Map<string, ClientOrderId>();
