import { randomBytes } from 'node:crypto';

/** A text field of a multipart body. */
export interface MultipartField {
  name: string;
  value: string;
}

/** The file part of a multipart body: streamed, never collected. */
export interface MultipartFile {
  name: string;
  filename: string;
  contentType?: string;
  /** Size in bytes, when known (gives the body a Content-Length). */
  size?: number | undefined;
  /** Makes the file's byte stream (called once per attempt). */
  open: () => AsyncIterable<Uint8Array>;
}

/** A streaming `multipart/form-data` body: text fields first, the file part last. */
export interface MultipartBody {
  contentType: string;
  /** The total body length, when the file size is known. */
  contentLength: number | undefined;
  /** Makes a fresh body stream; `onFileBytes` is told how many file bytes have been sent so far. */
  stream: (onFileBytes?: (sent: number) => void) => AsyncIterable<Uint8Array>;
}

function quote(value: string): string {
  return value.replace(/["\r\n\\]/g, (c) => encodeURIComponent(c));
}

/**
 * Builds a `multipart/form-data` body that streams its file part: memory stays bounded by the
 * chunk size whatever the file size.
 * @internal
 */
export function multipartBody(fields: MultipartField[], file: MultipartFile): MultipartBody {
  const boundary = `----otakit${randomBytes(12).toString('hex')}`;
  const encoder = new TextEncoder();
  let head = '';
  for (const field of fields) {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${quote(field.name)}"\r\n\r\n${field.value}\r\n`;
  }
  head +=
    `--${boundary}\r\nContent-Disposition: form-data; name="${quote(file.name)}"; filename="${quote(file.filename)}"\r\n` +
    `Content-Type: ${file.contentType ?? 'application/octet-stream'}\r\n\r\n`;
  const prefix = encoder.encode(head);
  const suffix = encoder.encode(`\r\n--${boundary}--\r\n`);
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    contentLength: file.size === undefined ? undefined : prefix.byteLength + file.size + suffix.byteLength,
    async *stream(onFileBytes) {
      yield prefix;
      let sent = 0;
      for await (const chunk of file.open()) {
        const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
        sent += bytes.byteLength;
        yield bytes;
        onFileBytes?.(sent);
      }
      yield suffix;
    },
  };
}
