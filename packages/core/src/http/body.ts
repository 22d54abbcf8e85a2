import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Dispatcher, FormData as UndiciFormData } from 'undici';
import { InvalidResponseError } from '../errors.js';
import type { HttpRequest, RequestBody } from './types.js';
import type { UndiciModule } from './undici.js';

/** The most bytes of an error response body that are read (the rest is discarded). */
export const ERROR_BODY_LIMIT = 64 * 1024;

type UndiciBody = string | Uint8Array | Readable;

/**
 * Whether `body` is a FormData: Node's global one or npm undici's (they are different classes).
 * Told by its `Symbol.toStringTag` too, so that this needs no undici loaded.
 */
function isFormData(body: unknown): body is FormData | UndiciFormData {
  return body instanceof FormData || Object.prototype.toString.call(body) === '[object FormData]';
}

/**
 * Encodes a FormData as a streamed multipart body with the `Content-Type` (boundary) to send, using
 * the fetch `Response` of the implementation the FormData came from. File parts are streamed.
 */
function encodeFormData(
  form: FormData | UndiciFormData,
  undici: UndiciModule,
): {
  body: Readable;
  contentType: string | undefined;
} {
  const response =
    form instanceof undici.FormData ? new undici.Response(form) : new Response(form as FormData);
  const stream = response.body as unknown as WebReadableStream<Uint8Array>;
  return { body: Readable.fromWeb(stream), contentType: response.headers.get('content-type') ?? undefined };
}

/** Whether a body can only be sent once (a stream or iterable rather than a value or a factory). @internal */
export function isOneShotBody(body: RequestBody | undefined): boolean {
  if (body === undefined || typeof body === 'function') return false;
  if (typeof body === 'string' || body instanceof Uint8Array || isFormData(body)) return false;
  return true;
}

function toReadable(body: Readable | AsyncIterable<Uint8Array>): Readable {
  if (body instanceof Readable) return body;
  if (typeof (body as { pipe?: unknown }).pipe === 'function') return body as Readable;
  return Readable.from(body, { objectMode: false });
}

/**
 * The body and content type to send for one attempt. A factory body is called once per attempt;
 * async iterables are wrapped in a Readable (streamed, never collected). `undici` (loaded by then)
 * encodes its own FormData.
 * @internal
 */
export function prepareBody(
  req: HttpRequest,
  undici: UndiciModule,
): {
  body: UndiciBody | undefined;
  contentType: string | undefined;
} {
  if (req.json !== undefined) {
    return { body: JSON.stringify(req.json), contentType: req.contentType ?? 'application/json' };
  }
  const body = req.body;
  if (body === undefined) return { body: undefined, contentType: req.contentType };
  if (typeof body === 'string') {
    return { body, contentType: req.contentType ?? 'text/plain; charset=utf-8' };
  }
  if (isFormData(body)) return encodeFormData(body, undici); // a fresh encoding per attempt
  if (body instanceof Uint8Array) {
    return { body, contentType: req.contentType ?? 'application/octet-stream' };
  }
  const stream = toReadable(typeof body === 'function' ? body() : body);
  return { body: stream, contentType: req.contentType ?? 'application/octet-stream' };
}

/** Where a body was read, for error messages. @internal */
export interface BodyContext {
  method: string;
  url: string;
  status: number;
  requestId: string | undefined;
}

/**
 * Reads an error response body, at most {@link ERROR_BODY_LIMIT} bytes: parsed JSON when it parses,
 * else text, `undefined` when empty. A larger body is cut and its connection dropped.
 * @internal
 */
export async function readErrorBody(body: Dispatcher.ResponseData['body']): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const room = ERROR_BODY_LIMIT - size;
    chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    size += Math.min(chunk.length, room);
    if (size >= ERROR_BODY_LIMIT) {
      body.destroy();
      break;
    }
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Reads a success body as asked. `json`: an empty body is `undefined`, invalid JSON an
 * {@link InvalidResponseError}; `stream` returns the body untouched for the caller to consume.
 * @internal
 */
export async function readBody(
  body: Dispatcher.ResponseData['body'],
  responseType: NonNullable<HttpRequest['responseType']>,
  context: BodyContext,
): Promise<unknown> {
  switch (responseType) {
    case 'stream':
      return body;
    case 'void':
      // Drain (not destroy) so the connection goes back to the pool.
      for await (const _chunk of body) {
        // discard
      }
      return undefined;
    case 'buffer':
      return Buffer.from(await body.arrayBuffer());
    case 'text':
      return body.text();
    case 'json': {
      const text = await body.text();
      if (text.trim() === '') return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        throw new InvalidResponseError({ ...context, reason: 'a body that is not valid JSON', cause: err });
      }
    }
  }
}
