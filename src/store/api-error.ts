/**
 * An error the embedded store answers with: an HTTP status and Vault's `{"errors":[...]}` messages. Thrown by any
 * layer (seal, tokens, policies, KV); the HTTP layer turns it into the response. Messages follow Vault's exact
 * strings (clients compare them) and never contain a secret.
 */
export class StoreApiError extends Error {
  readonly status: number;
  readonly errors: string[];

  constructor(status: number, errors: string | string[]) {
    const list = typeof errors === 'string' ? [errors] : errors;
    super(list[0] ?? `status ${status}`);
    this.name = 'StoreApiError';
    this.status = status;
    this.errors = list;
  }
}

/** 400 with one message. */
export const badRequest = (msg: string): StoreApiError => new StoreApiError(400, msg);
/** 403 `permission denied`. */
export const permissionDenied = (): StoreApiError => new StoreApiError(403, 'permission denied');
/** 404 with an empty error list (Vault's answer for a read of nothing). */
export const notFound = (): StoreApiError => new StoreApiError(404, []);
/** 503 `Vault is sealed`. */
export const sealedError = (): StoreApiError => new StoreApiError(503, 'Vault is sealed');
/** 404 for a path that no handler serves. */
export const noHandler = (path: string): StoreApiError =>
  new StoreApiError(404, `no handler for route "${path}". route entry not found.`);
/** 405 for a method a path does not support. */
export const unsupportedOperation = (): StoreApiError => new StoreApiError(405, '1 error occurred:\n\t* unsupported operation\n\n');
