import { EventEmitter } from 'node:events';
import type { Agent, ClientRequest, IncomingMessage, OutgoingHttpHeaders, RequestOptions } from 'node:http';
import { pipeline, Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { TlsOptions } from './types.js';
import type { UndiciModule } from './undici.js';

/**
 * How long a kept-alive socket may sit unused before it is closed, ms: undici's default
 * `keepAliveTimeout`, so that both transports hold idle connections alike.
 */
const IDLE_SOCKET_MS = 4_000;

/**
 * The handler `undici.request()` gives a dispatcher (undici's `RequestHandler`: the callbacks of
 * undici's first handler interface, which its own `DispatcherBase` still accepts as is).
 */
interface RequestHandler {
  onConnect(abort: (reason?: unknown) => void, context?: object): void;
  onHeaders(statusCode: number, rawHeaders: string[], resume: () => void, statusText: string): unknown;
  onData(chunk: Buffer): boolean | undefined;
  onComplete(trailers: string[]): void;
  onError(err: Error): void;
}

/** One request in flight, for `close()` (waits for it) and `destroy()` (fails it). */
interface Exchange {
  fail(err: Error): void;
}

/** Options of a {@link NodeHttpDispatcher}. @internal */
export interface NodeHttpDispatcherOptions {
  /** Maximum sockets per origin. */
  connections: number;
  /** TLS options of every `https:` connection (a private CA, a client certificate). */
  tls?: TlsOptions | undefined;
}

/**
 * A dispatcher for `undici.request()` that sends over Node's own HTTP/1.1 client (`node:http`,
 * `node:https`, keep-alive agents) instead of undici's connection pool: what `transport: 'node'`
 * builds. Node parses HTTP with the llhttp compiled into its binary, where undici parses it with
 * llhttp compiled to WebAssembly, which a process pays for in resident memory (the module's
 * baseline code, its memory, and the compiler's code of the node binary paged in to compile it):
 * a few keep-alive requests cost ~2.4 MiB more RSS through undici's pool than through `node:http`
 * (measured with `node --expose-gc`, RSS after `gc()`), and an idle `otakit device run` holds
 * 46.8 instead of 51.9 MiB on this transport (bench/device.bench.ts, paired; bare node 39.5).
 *
 * It serves the requests core's HttpClient makes: a body given as a string, bytes or a stream
 * (chunked unless a `content-length` header is set), the response streamed with back-pressure,
 * abort at any point (the socket is destroyed, never reused), keep-alive reuse of sockets whose
 * response was read to the end. The errors are undici's where undici raises its own (a connection
 * reset or closed early is an undici `SocketError`, a closed dispatcher `ClientClosedError`); a
 * refused connection or a TLS failure is Node's error as is, as with undici's pool. Not supported
 * (rejected with undici's `NotSupportedError`): upgrades, `CONNECT`, `expectContinue`, `query`,
 * and handlers of undici's second interface (`onRequestStart`...), which `undici.request()` does not
 * give. Proxies stay with undici's agents.
 * @internal
 */
export class NodeHttpDispatcher
  extends EventEmitter
  implements Pick<Dispatcher, 'dispatch' | 'close' | 'destroy'>
{
  readonly #errors: UndiciModule['errors'];
  readonly #options: NodeHttpDispatcherOptions;
  #httpAgent: Agent | undefined;
  #httpsAgent: Agent | undefined;
  readonly #inFlight = new Set<Exchange>();
  #closed = false;
  #destroyed = false;
  #drained: Array<() => void> = [];

  constructor(undici: Pick<UndiciModule, 'errors'>, options: NodeHttpDispatcherOptions) {
    super();
    this.#errors = undici.errors;
    this.#options = options;
  }

  /** Sends one request, reporting to `handler` as undici's dispatchers do. */
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const errors = this.#errors;
    if (handler === null || typeof handler !== 'object') {
      throw new errors.InvalidArgumentError('handler must be an object');
    }
    const h = handler as unknown as RequestHandler;
    if (typeof h.onConnect !== 'function' || typeof h.onHeaders !== 'function') {
      throw new errors.NotSupportedError("the node transport takes undici.request()'s handler only");
    }
    if (this.#destroyed || this.#closed) {
      h.onError(this.#destroyed ? new errors.ClientDestroyedError() : new errors.ClientClosedError());
      return false;
    }
    if (opts.upgrade || opts.method === 'CONNECT' || opts.expectContinue || opts.query !== undefined) {
      throw new errors.NotSupportedError('the node transport sends plain HTTP/1.1 requests only');
    }
    const origin = typeof opts.origin === 'string' ? new URL(opts.origin) : (opts.origin as URL);
    const secure = origin.protocol === 'https:';
    if (!secure && origin.protocol !== 'http:') {
      throw new errors.InvalidArgumentError(`unsupported protocol ${origin.protocol}`);
    }

    let req: ClientRequest | undefined;
    let res: IncomingMessage | undefined;
    let settled = false;
    const settle = (): void => {
      settled = true;
      this.#inFlight.delete(exchange);
      if (this.#inFlight.size === 0) for (const resolve of this.#drained.splice(0)) resolve();
    };
    const fail = (err: Error): void => {
      if (settled) return;
      settle();
      // Destroyed, not released: a socket left mid-exchange is never reused.
      req?.destroy();
      res?.destroy();
      h.onError(err);
    };
    const exchange: Exchange = { fail };
    this.#inFlight.add(exchange);

    h.onConnect((reason) => fail(reason instanceof Error ? reason : new errors.RequestAbortedError()), {});
    if (settled) return true; // aborted before it was sent

    try {
      req = this.#request(secure, {
        protocol: origin.protocol,
        hostname: origin.hostname.startsWith('[') ? origin.hostname.slice(1, -1) : origin.hostname,
        port: origin.port,
        path: opts.path,
        method: opts.method,
        headers: headerObject(opts.headers),
        agent: this.#agent(secure),
      });
    } catch (err) {
      // Node refused the request as given (e.g. a header value it cannot send): the call fails
      // with Node's error, and close() does not wait for it.
      fail(err as Error);
      return true;
    }
    req.on('error', (err) => fail(this.#transportError(err)));
    req.on('response', (incoming) => {
      res = incoming;
      incoming.on('error', (err) => fail(this.#transportError(err)));
      const flowing = h.onHeaders(
        incoming.statusCode ?? 0,
        incoming.rawHeaders,
        () => incoming.resume(),
        incoming.statusMessage ?? '',
      );
      if (settled) return; // the handler aborted
      if (flowing === false) incoming.pause();
      incoming.on('data', (chunk: Buffer) => {
        if (!settled && h.onData(chunk) === false) incoming.pause();
      });
      incoming.on('end', () => {
        if (settled) return;
        settle();
        h.onComplete(incoming.rawTrailers);
      });
    });
    try {
      sendBody(req, opts.body, fail);
    } catch (err) {
      fail(err as Error);
    }
    return true;
  }

  /** Waits for the requests in flight, then closes every socket. Later requests fail. */
  close(): Promise<void>;
  close(callback: () => void): void;
  close(callback?: () => void): Promise<void> | undefined {
    this.#closed = true;
    const done = (
      this.#inFlight.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => this.#drained.push(resolve))
    ).then(() => this.#destroyAgents());
    if (callback === undefined) return done;
    void done.then(callback);
    return undefined;
  }

  /** Fails the requests in flight with `err` (undici's `ClientDestroyedError` by default) and closes every socket. */
  destroy(err?: Error | null): Promise<void>;
  destroy(err: Error | null, callback: () => void): void;
  destroy(callback: () => void): void;
  destroy(errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | undefined {
    const cb = typeof errOrCallback === 'function' ? errOrCallback : callback;
    const err = typeof errOrCallback === 'function' ? undefined : errOrCallback;
    this.#destroyed = true;
    this.#closed = true;
    const reason = err ?? new this.#errors.ClientDestroyedError();
    for (const exchange of [...this.#inFlight]) exchange.fail(reason);
    this.#destroyAgents();
    if (cb === undefined) return Promise.resolve();
    queueMicrotask(cb);
    return undefined;
  }

  #agent(secure: boolean): Agent {
    if (secure) {
      this.#httpsAgent ??= new (process.getBuiltinModule('node:https').Agent)({
        keepAlive: true,
        maxSockets: this.#options.connections,
        timeout: IDLE_SOCKET_MS,
        ...this.#options.tls,
      });
      return this.#httpsAgent;
    }
    this.#httpAgent ??= new (httpClientModules().Agent)({
      keepAlive: true,
      maxSockets: this.#options.connections,
      timeout: IDLE_SOCKET_MS,
    });
    return this.#httpAgent;
  }

  /** `http.request(options)` or `https.request(options)`. */
  #request(secure: boolean, options: RequestOptions): ClientRequest {
    if (secure) return process.getBuiltinModule('node:https').request(options);
    return new (httpClientModules().ClientRequest)(options);
  }

  #destroyAgents(): void {
    this.#httpAgent?.destroy();
    this.#httpsAgent?.destroy();
  }

  /**
   * A transport error as undici's pool reports it: a connection the server reset or closed before the
   * response ended is an undici `SocketError` (with Node's error as its `cause`); others are Node's.
   */
  #transportError(err: Error): Error {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
      const socketError = new this.#errors.SocketError('other side closed');
      Object.defineProperty(socketError, 'cause', { value: err, configurable: true, writable: true });
      return socketError;
    }
    return err;
  }
}

/**
 * Node's HTTP client, `Agent` and `ClientRequest`, from the modules `node:http` takes them from
 * (`_http_agent`, `_http_client`): `node:http` itself also loads its server (`_http_server`) and
 * Node's HTTP server code, which an HTTP client never runs (~0.2 MiB of RSS, measured with
 * `node --expose-gc`, RSS after `gc()`). `node:https` loads it anyway, with TLS.
 */
function httpClientModules(): { Agent: typeof Agent; ClientRequest: typeof ClientRequest } {
  return {
    Agent: (process.getBuiltinModule('_http_agent') as { Agent: typeof Agent }).Agent,
    ClientRequest: (process.getBuiltinModule('_http_client') as { ClientRequest: typeof ClientRequest })
      .ClientRequest,
  };
}

/** undici's header forms (an object, or a flat `[name, value, ...]` array) as `node:http` takes them. */
function headerObject(headers: Dispatcher.DispatchOptions['headers']): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (headers == null) return out;
  const add = (name: string, value: unknown): void => {
    if (value === undefined || value === null) return;
    const key = name.toLowerCase();
    const values = Array.isArray(value) ? value.map(String) : [String(value)];
    const had = out[key];
    out[key] =
      had === undefined
        ? values.length === 1
          ? values[0]
          : values
        : [...[had].flat().map(String), ...values];
  };
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) add(String(headers[i]), headers[i + 1]);
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [name, value] of headers as Iterable<[string, unknown]>) add(name, value);
  } else {
    for (const [name, value] of Object.entries(headers)) add(name, value);
  }
  return out;
}

/** Writes the request body: at once for a string or bytes, piped for a stream or an async iterable. */
function sendBody(
  req: ClientRequest,
  body: Dispatcher.DispatchOptions['body'],
  fail: (err: Error) => void,
): void {
  if (body === undefined || body === null) {
    req.end();
  } else if (typeof body === 'string' || body instanceof Uint8Array) {
    req.end(body);
  } else {
    const stream =
      typeof (body as { pipe?: unknown }).pipe === 'function'
        ? (body as Readable)
        : Readable.from(body as AsyncIterable<Uint8Array>, { objectMode: false });
    pipeline(stream, req, (err) => {
      if (err) fail(err);
    });
  }
}
