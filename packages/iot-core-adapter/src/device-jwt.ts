import type { KeyObject } from 'node:crypto';
import { mintIotCoreJwtDetailed } from './jwt.js';

/** What a {@link DeviceJwt} is made from. @internal */
export interface DeviceJwtOptions {
  privateKey: KeyObject;
  /** The project id: the JWT audience. */
  project: string;
  /** JWT lifetime in seconds. Default 3600. */
  ttlSeconds?: number | undefined;
  /** How long before expiry a JWT is replaced. Default 10 % of the lifetime, in [1 s, 5 min]. */
  refreshMarginSeconds?: number | undefined;
  now: () => Date;
  /** Told of every JWT minted (`exp` in seconds since the epoch). */
  onMint: (exp: number) => void;
}

/**
 * The IoT Core JWT a device presents (the MQTT password, the HTTP bridge's bearer token): minted
 * from the device's key when none is valid for at least the refresh margin, shared by concurrent
 * callers while it is minted.
 * @internal
 */
export class DeviceJwt {
  readonly #o: DeviceJwtOptions;
  #jwt: { token: string; exp: number } | undefined;
  #minting: Promise<string> | undefined;

  constructor(options: DeviceJwtOptions) {
    this.#o = options;
  }

  /** A JWT valid for at least the refresh margin, minted anew (through core's `signJwt`) when needed. */
  current(): Promise<string> {
    const nowS = this.#o.now().getTime() / 1000;
    if (this.#jwt !== undefined && this.#jwt.exp - nowS > this.#margin()) {
      return Promise.resolve(this.#jwt.token);
    }
    this.#minting ??= mintIotCoreJwtDetailed({
      privateKey: this.#o.privateKey,
      projectId: this.#o.project,
      ttlSeconds: this.#ttl(),
      now: this.#o.now(),
    })
      .then((jwt) => {
        this.#jwt = { token: jwt.token, exp: jwt.exp };
        this.#o.onMint(jwt.exp);
        return jwt.token;
      })
      .finally(() => {
        this.#minting = undefined;
      });
    return this.#minting;
  }

  /** Drops the current JWT: the next {@link current} mints a fresh one. */
  forget(): void {
    this.#jwt = undefined;
  }

  /** How long until the current JWT is due for replacement (its expiry less the margin), in ms. */
  msUntilRenewal(): number {
    const exp = this.#jwt?.exp ?? 0;
    return Math.max(0, (exp - this.#margin()) * 1000 - this.#o.now().getTime());
  }

  #ttl(): number {
    return this.#o.ttlSeconds ?? 3600;
  }

  #margin(): number {
    return this.#o.refreshMarginSeconds ?? Math.min(300, Math.max(1, Math.floor(this.#ttl() / 10)));
  }
}
