// HMAC-SHA256 request signing as Binance does it: the signature is the hex HMAC of "totalParams", the raw query
// string followed by the raw form body, with the `signature` parameter itself left out.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Returns the hex HMAC-SHA256 of `payload` with `secret` (what a client puts in `signature`). */
export function signPayload(payload: string, secret: string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/** Returns totalParams (query + body, raw bytes as sent) without the `signature` pair, and the signature sent. */
export function splitSignature(query: string, body: string): { payload: string; signature: string | undefined } {
  let signature: string | undefined;
  const strip = (s: string): string => {
    if (!s) return s;
    const kept: string[] = [];
    for (const pair of s.split('&')) {
      if (pair.startsWith('signature=')) signature = decodeOrRaw(pair.slice('signature='.length));
      else kept.push(pair);
    }
    return kept.join('&');
  };
  const q = strip(query);
  const b = strip(body);
  return { payload: q + b, signature };
}

// A malformed percent-escape (`%zz`) is kept as sent: no hex HMAC looks like that, so verifySignature refuses it as
// Binance does (-1022), where a throw here became a 500 / -1000 that clients read as "the venue may have acted".
function decodeOrRaw(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Returns true when `signature` is the HMAC of `payload` under `secret` (constant-time compare). */
export function verifySignature(payload: string, signature: string, secret: string): boolean {
  if (!/^[0-9a-fA-F]{64}$/.test(signature)) return false;
  const want = Buffer.from(signPayload(payload, secret), 'hex');
  return timingSafeEqual(want, Buffer.from(signature.toLowerCase(), 'hex'));
}

/** Request timestamp check (Binance rule): not more than 1 s ahead of `now`, not older than `recvWindow`. */
export function timestampVerdict(timestamp: number, recvWindow: number, now: number): 'ok' | 'ahead' | 'outside' {
  if (timestamp > now + 1000) return 'ahead';
  if (now - timestamp > recvWindow) return 'outside';
  return 'ok';
}
