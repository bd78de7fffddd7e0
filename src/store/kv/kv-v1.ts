/**
 * KV version 1 (Vault's `kv` without `version=2`, the engine EdgeX mounts at `secret/`): the request body is the
 * secret, stored as JSON at the request path; reads return it as `data`, lists return the direct children.
 */
import { badRequest, notFound, unsupportedOperation } from '../api-error.js';
import type { LogicalBackend } from '../backend.js';
import type { JsonObject, LogicalRequest, LogicalResponse } from '../logical.js';
import type { Storage } from '../storage/storage.js';

/** A KV v1 backend over a mount's own storage. */
export class KvV1Backend implements LogicalBackend {
  private readonly storage: Storage;

  /** `storage` is the mount's namespace (a PrefixedStorage over the barrier). */
  constructor(storage: Storage) {
    this.storage = storage;
  }

  /** Existence check for create-vs-update: true when a secret is stored at `path`. */
  async exists(path: string): Promise<boolean | undefined> {
    const key = path.replace(/^\/+/, '');
    if (key === '' || key.endsWith('/')) return undefined;
    return (await this.storage.get(key)) !== undefined;
  }

  /** GET/PUT/POST/DELETE `<path>` and LIST `<folder>/`. */
  readonly handle: LogicalBackend['handle'] = (req) => this.dispatch(req);

  /** Dispatches one request (the caller context is not needed: the HTTP layer already authorized it). */
  private async dispatch(req: LogicalRequest): Promise<LogicalResponse> {
    const key = req.path.replace(/^\/+/, '');
    if (req.operation === 'list') {
      const prefix = key === '' || key.endsWith('/') ? key : key + '/';
      const keys = await this.storage.list(prefix);
      if (keys.length === 0) throw notFound();
      return { data: { keys } };
    }
    if (key === '') throw badRequest('missing path');
    switch (req.operation) {
      case 'read': {
        const bytes = await this.storage.get(key);
        if (bytes === undefined) throw notFound();
        return { data: JSON.parse(bytes.toString('utf8')) as JsonObject };
      }
      case 'create':
      case 'update': {
        if (Object.keys(req.data).length === 0) throw badRequest('missing data fields');
        await this.storage.put(key, Buffer.from(JSON.stringify(req.data), 'utf8'));
        return { status: 204 };
      }
      case 'delete':
        await this.storage.delete(key);
        return { status: 204 };
      default:
        throw unsupportedOperation();
    }
  }
}
