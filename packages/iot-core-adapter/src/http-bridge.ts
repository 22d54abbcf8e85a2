import { HttpClient, type Logger, type RequestOptions, type TlsOptions } from '@otakit/core';

/** Google's device HTTP bridge. */
export const DEFAULT_HTTP_BRIDGE_URL = 'https://cloudiotdevice.googleapis.com';

/**
 * The device HTTP bridge (`cloudiotdevice.googleapis.com/v1`) for one device: `:publishEvent`,
 * `:setState`, `/config`, each with `Authorization: Bearer <device JWT>` (the bridge remembers no
 * authentication). Bodies use the proto3 JSON names and standard base64.
 * @internal
 */
export class HttpBridge {
  readonly #http: HttpClient;
  readonly #path: string;

  constructor(options: {
    baseUrl: string | undefined;
    devicePath: string;
    jwt: () => Promise<string>;
    tls: TlsOptions | undefined;
    logger: Logger | undefined;
  }) {
    this.#path = `/v1/${options.devicePath}`;
    this.#http = new HttpClient({
      baseUrl: options.baseUrl ?? DEFAULT_HTTP_BRIDGE_URL,
      auth: options.jwt,
      headers: { 'cache-control': 'no-cache' },
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  }

  /** `POST …:publishEvent` `{binaryData, subFolder?}`. */
  async publishEvent(data: Buffer, subfolder: string | undefined, options: RequestOptions): Promise<void> {
    await this.#http.request({
      ...options,
      method: 'POST',
      path: `${this.#path}:publishEvent`,
      json: {
        binaryData: data.toString('base64'),
        ...(subfolder === undefined ? {} : { subFolder: subfolder }),
      },
      responseType: 'void',
    });
  }

  /** `POST …:setState` `{state: {binaryData}}`. */
  async setState(data: Buffer, options: RequestOptions): Promise<void> {
    await this.#http.request({
      ...options,
      method: 'POST',
      path: `${this.#path}:setState`,
      json: { state: { binaryData: data.toString('base64') } },
      responseType: 'void',
    });
  }

  /** `GET …/config?local_version=N` → `{version, binaryData?}`. */
  async getConfig(
    localVersion: number,
    options: RequestOptions,
  ): Promise<{ version: number; data: Buffer | undefined }> {
    const res = await this.#http.request<{ version?: string; binaryData?: string }>({
      ...options,
      method: 'GET',
      path: `${this.#path}/config`,
      query: { local_version: localVersion },
    });
    const body = res.data ?? {};
    return {
      version: Number(body.version ?? 0),
      data: body.binaryData === undefined ? undefined : Buffer.from(body.binaryData, 'base64'),
    };
  }

  /** Closes the bridge's connections. */
  close(): Promise<void> {
    return this.#http.close();
  }
}
