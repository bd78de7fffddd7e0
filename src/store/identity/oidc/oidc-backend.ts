/**
 * The identity store's OIDC identity tokens (Vault's `identity/oidc/*`): issuer configuration, named signing keys,
 * roles, token issue and introspection, and the unauthenticated discovery documents. One path table routes the
 * requests; every handler that may write (including the ones that rotate a due key on use) runs after the previous
 * one has finished, so concurrent requests never rotate a key twice.
 */
import type { CallerContext, LogicalBackend } from '../../backend.js';
import { PathTable, type PathSpec } from '../../framework/path-table.js';
import type { LogicalRequest, LogicalResponse } from '../../logical.js';
import type { Storage } from '../../storage/storage.js';
import type { EntityLookup } from '../identity-types.js';
import { stringField } from '../../tokens/fields.js';
import { validateIssuer } from './oidc-config.js';
import { discoveryDocument, publicKeySet } from './oidc-discovery.js';
import { has } from './oidc-fields.js';
import { deleteKey, listKeys, readKey, rotateNamedKey, writeKey } from './oidc-key-handlers.js';
import { SigningKeyCache } from './oidc-keys.js';
import { deleteRole, listRoles, readRole, writeRole } from './oidc-roles.js';
import { OidcStore, type OidcContext } from './oidc-store.js';
import { introspectToken, issueToken } from './oidc-token.js';

/** Options of {@link OidcBackend}. */
export interface OidcOptions {
  /** The clock, epoch milliseconds (tests inject one); `Date.now` by default. */
  now?: () => number;
}

/** Vault's name pattern for keys and roles (`framework.GenericNameRegex`). */
const NAME = String.raw`(\w(?:[\w.-]*\w)?)`;

/** The identity-token part of the identity store. */
export class OidcBackend implements LogicalBackend {
  private readonly ctx: OidcContext;
  private readonly table: PathTable;
  private lock: Promise<unknown> = Promise.resolve();

  /**
   * `storage` is the OIDC namespace of the identity store (already prefixed, under the encrypting barrier);
   * `entities` reads the entities tokens are issued for and introspection checks.
   */
  constructor(storage: Storage, entities: EntityLookup, options: OidcOptions = {}) {
    this.ctx = { store: new OidcStore(storage), entities, signingKeys: new SigningKeyCache(), now: options.now ?? Date.now };
    this.table = new PathTable(this.paths(), 'identity/');
  }

  /** Runs `fn` after every earlier exclusive call has settled. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private paths(): PathSpec[] {
    const ctx = this.ctx;
    const name = (params: string[]): string => params[0] ?? '';
    return [
      {
        pattern: /^oidc\/config\/?$/,
        operations: {
          read: async () => ({ data: { issuer: (await ctx.store.getConfig()).issuer } }),
          update: ({ req }) => this.exclusive(() => this.writeConfig(req)),
        },
      },
      {
        pattern: new RegExp(`^oidc/key/${NAME}/rotate/?$`),
        operations: { update: ({ req, params }) => this.exclusive(() => rotateNamedKey(ctx, name(params), req.data)) },
      },
      {
        pattern: new RegExp(`^oidc/key/${NAME}$`),
        operations: {
          read: ({ params }) => readKey(ctx, name(params)),
          update: ({ req, params }) => this.exclusive(() => writeKey(ctx, name(params), req.data)),
          delete: ({ params }) => this.exclusive(() => deleteKey(ctx, name(params))),
        },
        exists: async (params) => (await ctx.store.getKey(name(params))) !== undefined,
      },
      { pattern: /^oidc\/key\/?$/, operations: { list: () => listKeys(ctx) } },
      {
        pattern: new RegExp(`^oidc/role/${NAME}$`),
        operations: {
          read: ({ params }) => readRole(ctx, name(params)),
          update: ({ req, params }) => this.exclusive(() => writeRole(ctx, name(params), req.data)),
          delete: ({ params }) => this.exclusive(() => deleteRole(ctx, name(params))),
        },
        exists: async (params) => (await ctx.store.getRole(name(params))) !== undefined,
      },
      { pattern: /^oidc\/role\/?$/, operations: { list: () => listRoles(ctx) } },
      {
        pattern: new RegExp(`^oidc/token/${NAME}$`),
        operations: { read: ({ params, caller }) => this.exclusive(() => issueToken(ctx, name(params), caller.entityId)) },
      },
      {
        pattern: /^oidc\/introspect\/?$/,
        operations: { update: ({ req }) => this.exclusive(() => introspectToken(ctx, req.data)) },
      },
      {
        pattern: /^oidc\/\.well-known\/openid-configuration\/?$/,
        operations: { read: async () => ({ raw: discoveryDocument(await ctx.store.getConfig()) }) },
        unauthenticated: true,
      },
      {
        pattern: /^oidc\/\.well-known\/keys\/?$/,
        operations: { read: () => this.exclusive(async () => ({ raw: { keys: (await publicKeySet(ctx)).keys } })) },
        unauthenticated: true,
      },
    ];
  }

  /** POST/PUT `oidc/config {issuer}`: 204; a request without `issuer` changes nothing (Vault). */
  private async writeConfig(req: LogicalRequest): Promise<LogicalResponse> {
    if (!has(req.data, 'issuer')) return { status: 204 };
    const issuer = stringField(req.data, 'issuer');
    validateIssuer(issuer);
    await this.ctx.store.putConfig({ issuer });
    return { status: 204 };
  }

  /** Serves paths relative to the identity mount that start with `oidc/` (e.g. `oidc/key/edgex-identity`). */
  handle(req: LogicalRequest, caller: CallerContext): Promise<LogicalResponse> {
    return this.table.dispatch(req, caller);
  }

  /** True for `oidc/.well-known/openid-configuration` and `oidc/.well-known/keys`. */
  isUnauthenticated(path: string): boolean {
    return this.table.isUnauthenticated(path);
  }

  /** Existence check for create-vs-update of keys and roles; undefined for every other path. */
  exists(path: string): Promise<boolean | undefined> {
    return this.table.exists(path);
  }

  /** Drops the decoded private keys (the store seals); they are decoded again from storage on next use. */
  forget(): void {
    this.ctx.signingKeys.clear();
  }
}
