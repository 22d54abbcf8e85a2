/**
 * Hand-built hostile decompressor inputs (zstd frames byte by byte, per RFC 8878) and PAX headers,
 * shared by the reader tests and the fuzz harness (`packages/core/fuzz`).
 */

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

function blockHeader(last: boolean, type: 0 | 1 | 2, size: number): number[] {
  const v = (last ? 1 : 0) | (type << 1) | (size << 3);
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff];
}

/**
 * A zstd frame header without a content size: window = 2^windowLog (10..41), optional checksum off.
 */
function frameHeader(windowLog: number): number[] {
  return [...ZSTD_MAGIC, 0x00, (windowLog - 10) << 3];
}

/** A complete zstd frame storing `content` in raw blocks, declaring a window of 2^windowLog bytes. */
export function zstdRawFrame(content: Uint8Array, windowLog = 17): Uint8Array {
  const out: number[] = frameHeader(windowLog);
  const parts: Uint8Array[] = [];
  const max = Math.min(128 * 1024, 2 ** windowLog);
  if (content.length === 0) out.push(...blockHeader(true, 0, 0));
  parts.push(Uint8Array.from(out));
  for (let off = 0; off < content.length; off += max) {
    const piece = content.subarray(off, Math.min(off + max, content.length));
    parts.push(Uint8Array.from(blockHeader(off + max >= content.length, 0, piece.length)), piece);
  }
  return Buffer.concat(parts);
}

/** A complete zstd frame of `size` zero bytes in RLE blocks (4 bytes of input per 128 KiB of output). */
export function zstdRleZerosFrame(size: number, windowLog = 17): Uint8Array {
  const block = 128 * 1024;
  const count = Math.ceil(size / block);
  const out = new Uint8Array(6 + count * 4);
  out.set(frameHeader(windowLog));
  for (let i = 0; i < count; i++) {
    const n = Math.min(block, size - i * block);
    out.set([...blockHeader(i === count - 1, 1, n), 0], 6 + i * 4);
  }
  return out;
}

/** A skippable zstd frame (magic 0x184D2A50) carrying `size` zero bytes. */
export function zstdSkippableFrame(size = 8): Uint8Array {
  const out = new Uint8Array(8 + size);
  out.set([0x50, 0x2a, 0x4d, 0x18, size & 0xff, (size >> 8) & 0xff, (size >> 16) & 0xff, size >>> 24]);
  return out;
}

/**
 * One compressed block declaring 98,047 sequences (the most the format can declare) each with one
 * literal and the longest match length code (52, 65,539 bytes): about 6.4 GB of copying for a
 * decoder that does not bound a block's output to 128 KiB. All three symbol tables are RLE and
 * every extra-bits field is empty, so the sequence bitstream is a single padding byte.
 */
export function zstdSequenceBombFrame(): Uint8Array {
  const nbSeq = 0xffff + 0x7f00;
  const literals = nbSeq;
  const block = [
    // Literals section: RLE, 20-bit size format, then the one literal byte.
    1 | (3 << 2) | ((literals & 0xf) << 4),
    (literals >> 4) & 0xff,
    (literals >> 12) & 0xff,
    0x61,
    // Sequences section header: nbSeq in the 3-byte form, then modes (LL, OF, ML all RLE).
    0xff,
    (nbSeq - 0x7f00) & 0xff,
    ((nbSeq - 0x7f00) >> 8) & 0xff,
    (1 << 6) | (1 << 4) | (1 << 2),
    1, // literal length code 1: one literal
    0, // offset code 0: offset value 1 (repeat offset 1)
    52, // match length code 52: 65,539 bytes without extra bits
    // Bitstream: no bits, just the end marker.
    0x01,
  ];
  return Uint8Array.from([...frameHeader(20), ...blockHeader(true, 2, block.length), ...block]);
}

/**
 * A PAX extended header entry (typeflag `x`) whose one record has a length field of `digits`
 * digits, for the outer, header or data tar; its body is `digits + 10` bytes.
 */
export function paxLengthBomb(digits: number): Uint8Array {
  const body = Buffer.alloc(digits + 10, 0x20);
  body.fill(0x31, 0, digits); // "111...1" then spaces
  body[digits + 9] = 0x0a;
  const header = Buffer.alloc(512);
  header.write('PaxHeaders/x', 0, 'ascii');
  header.write('0000644\0', 100, 'ascii');
  header.write('0000000\0', 108, 'ascii');
  header.write('0000000\0', 116, 'ascii');
  header.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  header.write('00000000000\0', 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write('x', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([header, body, padding]);
}
