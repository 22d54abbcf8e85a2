/**
 * Google API errors (`google.rpc.Status` as JSON): `{error: {code, message, status}}`.
 * @internal
 */

/** The canonical gRPC codes the sandbox answers with, and their HTTP statuses. @internal */
export const RPC_STATUS = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

/** A canonical status name. @internal */
export type RpcStatus = keyof typeof RPC_STATUS;

/** An error a route throws; rendered as a Google error body. @internal */
export class RpcError extends Error {
  readonly status: RpcStatus;
  constructor(status: RpcStatus, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }

  /** The HTTP status code. */
  get httpStatus(): number {
    return RPC_STATUS[this.status];
  }

  /** The JSON body: `{error: {code, message, status}}`. */
  toJSON(): { error: { code: number; message: string; status: RpcStatus } } {
    return { error: { code: this.httpStatus, message: this.message, status: this.status } };
  }
}
