/**
 * The identity store as one logical backend mounted at `identity/` (as Vault mounts it): entities and entity
 * aliases (entity-paths.ts) and OIDC identity tokens (oidc/). Paths under `oidc/` go to the OIDC backend; the rest
 * to the entity path table.
 */
import type { CallerContext, LogicalBackend } from '../backend.js';
import { PathTable } from '../framework/path-table.js';
import type { LogicalRequest, LogicalResponse } from '../logical.js';
import { entityPathSpecs } from './entity-paths.js';
import type { EntityStore } from './entity-store.js';
import type { OidcBackend } from './oidc/oidc-backend.js';

function isOidc(path: string): boolean {
  const p = path.replace(/^\/+/, '');
  return p === 'oidc' || p.startsWith('oidc/');
}

/** `identity/*`. */
export class IdentityBackend implements LogicalBackend {
  private readonly entities: PathTable;
  private readonly oidc: OidcBackend;

  constructor(store: EntityStore, oidc: OidcBackend) {
    this.entities = new PathTable(entityPathSpecs(store), 'identity/');
    this.oidc = oidc;
  }

  handle(req: LogicalRequest, caller: CallerContext): Promise<LogicalResponse> {
    return isOidc(req.path) ? this.oidc.handle(req, caller) : this.entities.dispatch(req, caller);
  }

  exists(path: string): Promise<boolean | undefined> {
    return isOidc(path) ? this.oidc.exists(path) : this.entities.exists(path);
  }

  isUnauthenticated(path: string): boolean {
    return isOidc(path) && this.oidc.isUnauthenticated(path);
  }

  forget(): void {
    this.oidc.forget();
  }
}
