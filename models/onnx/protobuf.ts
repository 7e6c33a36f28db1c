// A minimal protobuf writer: just the wire types ONNX needs (varint, 32-bit, length-delimited).
// Written by hand so exporting a model needs no protobuf dependency; field numbers live in graph.ts.

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Appends protobuf fields to a growable byte buffer; `finish()` returns the bytes written. */
export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /** Writes an unsigned or signed 64-bit varint; negatives take the 10-byte two's complement form protobuf uses for int64. */
  varint(v: number | bigint): this {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new RangeError(`varint ${v} is not a safe integer`);
      if (v >= 0 && v < 2 ** 31) {
        let x = v;
        while (x > 0x7f) {
          this.byte((x & 0x7f) | 0x80);
          x >>>= 7;
        }
        this.byte(x);
        return this;
      }
      v = BigInt(v);
    }
    let x = BigInt.asUintN(64, v);
    while (x > 0x7fn) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
    return this;
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** Writes an int32/int64/enum/bool field. */
  int(field: number, v: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    return this.varint(v);
  }

  /** Writes a `float` field (fixed 32-bit little endian). */
  float(field: number, v: number): this {
    this.tag(field, WIRE_I32);
    this.reserve(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, v, true);
    this.len += 4;
    return this;
  }

  /** Writes a `bytes` field. */
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(data.length);
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  /** Writes a `string` field as UTF-8. */
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** Writes an embedded message field, built by `build` on a fresh writer. */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  /** Returns a copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
