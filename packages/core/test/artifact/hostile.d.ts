/**
 * Hand-built hostile decompressor inputs (zstd frames byte by byte, per RFC 8878) and PAX headers,
 * shared by the reader tests and the fuzz harness (`packages/core/fuzz`).
 */
/** A complete zstd frame storing `content` in raw blocks, declaring a window of 2^windowLog bytes. */
export declare function zstdRawFrame(content: Uint8Array, windowLog?: number): Uint8Array;
/** A complete zstd frame of `size` zero bytes in RLE blocks (4 bytes of input per 128 KiB of output). */
export declare function zstdRleZerosFrame(size: number, windowLog?: number): Uint8Array;
/** A skippable zstd frame (magic 0x184D2A50) carrying `size` zero bytes. */
export declare function zstdSkippableFrame(size?: number): Uint8Array;
/**
 * One compressed block declaring 98,047 sequences (the most the format can declare) each with one
 * literal and the longest match length code (52, 65,539 bytes): about 6.4 GB of copying for a
 * decoder that does not bound a block's output to 128 KiB. All three symbol tables are RLE and
 * every extra-bits field is empty, so the sequence bitstream is a single padding byte.
 */
export declare function zstdSequenceBombFrame(): Uint8Array;
/**
 * A PAX extended header entry (typeflag `x`) whose one record has a length field of `digits`
 * digits, for the outer, header or data tar; its body is `digits + 10` bytes.
 */
export declare function paxLengthBomb(digits: number): Uint8Array;
