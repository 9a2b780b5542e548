// The Protocol Buffers wire format, only as much as the light status client needs: write varints,
// strings, bytes and nested messages; read any message field by field, skipping what it does not ask
// for (unknown fields, fixed-width numbers). Field numbers live with the messages (messages.ts).

/** Wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit (groups are long obsolete). */
export type WireType = 0 | 1 | 2 | 5;

export class WireError extends Error {
  constructor(message: string) {
    super(`protobuf: ${message}`);
    this.name = 'WireError';
  }
}

export class ProtoWriter {
  private readonly chunks: Buffer[] = [];

  /** A varint field; proto3 leaves zero out, as the official encoders do. */
  uint(field: number, value: number | bigint): this {
    const v = BigInt(value);
    if (v < 0n) throw new WireError(`field ${field}: negative values are not written by this encoder`);
    if (v === 0n) return this;
    this.tag(field, 0);
    this.chunks.push(varint(v));
    return this;
  }

  string(field: number, value: string | undefined): this {
    if (!value) return this;
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.chunks.push(varint(BigInt(value.length)), Buffer.from(value.buffer, value.byteOffset, value.length));
    return this;
  }

  /** A nested message; written even when empty, so the receiver sees it present. */
  message(field: number, inner: ProtoWriter): this {
    return this.bytes(field, inner.finish());
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }

  private tag(field: number, wire: WireType): void {
    this.chunks.push(varint((BigInt(field) << 3n) | BigInt(wire)));
  }
}

function varint(v: bigint): Buffer {
  const out: number[] = [];
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

export interface Field {
  no: number;
  wire: WireType;
  /** Wire type 0. */
  varint: bigint;
  /** Wire type 2 (a string, bytes, a nested message or a packed repeated field). */
  bytes: Buffer;
}

/** Every field of a message in order (repeated fields appear once per element). */
export function* fields(buf: Uint8Array): Generator<Field> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  let pos = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= b.length) throw new WireError('truncated varint');
      const byte = b[pos++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asUintN(64, result);
    }
    throw new WireError('varint longer than 10 bytes');
  };
  while (pos < b.length) {
    const key = readVarint();
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (no === 0) throw new WireError('field number 0');
    if (wire === 0) {
      yield { no, wire, varint: readVarint(), bytes: EMPTY };
    } else if (wire === 2) {
      const len = Number(readVarint());
      if (pos + len > b.length) throw new WireError(`field ${no}: length ${len} runs past the end`);
      yield { no, wire, varint: 0n, bytes: b.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
      if (pos > b.length) throw new WireError(`field ${no}: truncated fixed-width value`);
      // No message this client reads has a fixed-width field it needs: skipped like an unknown one.
    } else {
      throw new WireError(`field ${no}: unsupported wire type ${wire}`);
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** int32/int64 as a JS number (negative values arrive as 64-bit two's complement). */
export const toInt = (f: Field): number => Number(BigInt.asIntN(64, f.varint));
export const toStr = (f: Field): string => f.bytes.toString('utf8');
