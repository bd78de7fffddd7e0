/**
 * Named ACL policies kept in storage (under `sys/policy/`), with the built-in `root` (implicit, immutable) and
 * `default` (written at first start, editable, undeletable) policies, a parse cache and an ACL cache. Serves
 * `sys/policies/acl` and the legacy `sys/policy` endpoints node-vault uses.
 */
import { badRequest, noHandler, notFound, unsupportedOperation } from '../api-error.js';
import type { CallerContext, LogicalBackend } from '../backend.js';
import type { LogicalRequest, LogicalResponse } from '../logical.js';
import { PrefixedStorage, type Storage } from '../storage/storage.js';
import { Acl } from './acl.js';
import { DEFAULT_POLICY_TEXT } from './default-policy.js';
import { parsePolicy, type Policy } from './policy.js';

/** What is stored per policy. */
interface StoredPolicy {
  version: 1;
  name: string;
  raw: string;
}

const ROOT_POLICY: Policy = { name: 'root', text: '', rules: [] };

/** Go's base64.StdEncoding.DecodeString accepts exactly this (padding required; CR/LF ignored). */
function decodeStrictBase64(s: string): string | undefined {
  const compact = s.replace(/[\r\n]/g, '');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return undefined;
  return Buffer.from(compact, 'base64').toString('utf8');
}

function stringField(data: Record<string, unknown>, name: string): string {
  const v = data[name];
  return typeof v === 'string' ? v : '';
}

/** Storage keys are the URI-encoded names, so a name containing `/` stays one flat key. */
function storageKey(name: string): string {
  return encodeURIComponent(name);
}

/** The policy store. `handle` serves paths relative to `sys/` (`policies/acl[/name]`, `policy[/name]`). */
export class PolicyStore implements LogicalBackend {
  private readonly storage: Storage;
  private readonly parsed = new Map<string, Policy>();
  private readonly acls = new Map<string, Acl>();
  /**
   * The ACL of a frozen policy list (a resolved token's, shared by all its requests), by identity: no key to build
   * per request. Entries of an older generation (before a policy changed) are ignored.
   */
  private readonly aclsByList = new WeakMap<readonly string[], { generation: number; acl: Acl }>();
  private generation = 0;

  /** `storage` is the barrier (or any Storage); policies live under `sys/policy/` in it. */
  constructor(storage: Storage) {
    this.storage = new PrefixedStorage(storage, 'sys/policy/');
  }

  /** Writes the built-in `default` policy when it is not stored yet (first unseal after init). */
  async init(): Promise<void> {
    if ((await this.storage.get(storageKey('default'))) === undefined) await this.setPolicy('default', DEFAULT_POLICY_TEXT);
  }

  /** The named policy (names are lower-cased), `root` included; undefined when absent. */
  async getPolicy(rawName: string): Promise<Policy | undefined> {
    const name = rawName.toLowerCase();
    if (name === 'root') return ROOT_POLICY;
    const cached = this.parsed.get(name);
    if (cached !== undefined) return cached;
    const bytes = await this.storage.get(storageKey(name));
    if (bytes === undefined) return undefined;
    const stored = JSON.parse(bytes.toString('utf8')) as StoredPolicy;
    const policy = parsePolicy(name, stored.raw);
    this.parsed.set(name, policy);
    return policy;
  }

  /** Stores a policy after parsing it; `root` cannot be changed. Throws 400 StoreApiError. */
  async setPolicy(rawName: string, text: string): Promise<void> {
    const name = rawName.toLowerCase();
    if (name === '') throw badRequest('policy name missing');
    const policy = parsePolicy(name, text);
    if (name === 'root') throw badRequest('cannot update "root" policy');
    const stored: StoredPolicy = { version: 1, name, raw: text };
    const bytes = Buffer.from(JSON.stringify(stored), 'utf8');
    // Writing back what is stored changes nothing, yet costs a durable write (an fsync, or an etcd commit): every
    // boot writes its policies again — one for the plain flow, one per service for EdgeX — and nearly all are
    // unchanged. The answer is the same either way.
    if ((await this.storage.get(storageKey(name)))?.equals(bytes) === true) return;
    await this.storage.put(storageKey(name), bytes);
    this.parsed.set(name, policy);
    this.forgetAcls();
  }

  /** Deletes a policy; `root` and `default` cannot be deleted; deleting an absent policy is not an error. */
  async deletePolicy(rawName: string): Promise<void> {
    const name = rawName.toLowerCase();
    if (name === 'root') throw badRequest('cannot delete "root" policy');
    if (name === 'default') throw badRequest('cannot delete default policy');
    await this.storage.delete(storageKey(name));
    this.parsed.delete(name);
    this.forgetAcls();
  }

  /** Stored policy names, sorted, followed by `root` (Vault's list order). */
  async listPolicies(): Promise<string[]> {
    const keys = await this.storage.list('');
    const names = keys.filter((k) => !k.endsWith('/')).map((k) => decodeURIComponent(k));
    names.sort();
    return [...names, 'root'];
  }

  /**
   * The ACL for `names` if it is already compiled (the hot path of every request, answered without waiting);
   * undefined when it must be built first with {@link getAcl}.
   */
  getAclCached(names: readonly string[]): Acl | undefined {
    // The names as the token lists them. A raw key that is not already normalized (lower case, sorted, unique)
    // can never equal a normalized key, so both kinds share the map safely.
    const known = this.aclsByList.get(names);
    if (known !== undefined && known.generation === this.generation) return known.acl;
    const acl = this.acls.get(names.length === 1 ? (names[0] ?? '') : names.join('\n'));
    // Only a frozen list can be remembered by identity: another could change under the remembered answer.
    if (acl !== undefined && Object.isFrozen(names)) this.aclsByList.set(names, { generation: this.generation, acl });
    return acl;
  }

  /** Drops every compiled ACL (a policy changed). */
  private forgetAcls(): void {
    this.acls.clear();
    this.generation++;
  }

  /** The ACL for a token's policies (unknown names are skipped, as in Vault); cached until a policy changes. */
  async getAcl(names: readonly string[]): Promise<Acl> {
    const hit = this.getAclCached(names);
    if (hit !== undefined) return hit;
    const raw = names.join('\n');
    const key = [...new Set(names.map((n) => n.toLowerCase()))].sort().join('\n');
    const cached = this.acls.get(key);
    if (cached !== undefined) {
      this.acls.set(raw, cached);
      return cached;
    }
    const policies: Policy[] = [];
    for (const n of key === '' ? [] : key.split('\n')) {
      const p = await this.getPolicy(n);
      if (p !== undefined) policies.push(p);
    }
    const acl = Acl.fromPolicies(policies);
    this.acls.set(key, acl);
    this.acls.set(raw, acl);
    return acl;
  }

  /** Serves `policies/acl[/name]` and `policy[/name]` (relative to `sys/`; a leading `sys/` is tolerated). */
  handle(req: LogicalRequest, caller: CallerContext): Promise<LogicalResponse> {
    const path = req.path.startsWith('sys/') ? req.path.slice(4) : req.path;
    if (path === 'policies/acl' || path.startsWith('policies/acl/')) {
      return this.serve({ ...req, path: path.slice('policies/acl'.length).replace(/^\//, '') }, caller, false);
    }
    if (path === 'policy' || path.startsWith('policy/')) {
      return this.serve({ ...req, path: path.slice('policy'.length).replace(/^\//, '') }, caller, true);
    }
    return Promise.reject(noHandler(`sys/${path}`));
  }

  /** Serves one request with `req.path` = the policy name (or empty); `legacy` selects `sys/policy` shapes. */
  async serve(req: LogicalRequest, _caller: CallerContext, legacy: boolean): Promise<LogicalResponse> {
    const name = req.path.replace(/\/+$/, '');
    if (name === '') {
      if (req.operation === 'list' || (legacy && req.operation === 'read')) {
        const keys = await this.listPolicies();
        return legacy ? { data: { keys, policies: keys }, topLevelData: true } : { data: { keys } };
      }
      throw unsupportedOperation();
    }
    switch (req.operation) {
      case 'read': {
        const p = await this.getPolicy(name);
        if (p === undefined) throw notFound();
        return legacy
          ? { data: { name: p.name, rules: p.text }, topLevelData: true }
          : { data: { name: p.name, policy: p.text } };
      }
      case 'create':
      case 'update': {
        let text = stringField(req.data, 'policy');
        if (text === '' && legacy) text = stringField(req.data, 'rules');
        text = decodeStrictBase64(text) ?? text;
        if (text === '') throw badRequest(`'policy' parameter not supplied or empty`);
        await this.setPolicy(name, text);
        return { status: 204 };
      }
      case 'delete':
        await this.deletePolicy(name);
        return { status: 204 };
      default:
        throw unsupportedOperation();
    }
  }
}

/** A backend for `sys/policies/acl/`: paths relative to it (`''` to list, or a policy name). */
export function policyAclBackend(store: PolicyStore): LogicalBackend {
  return { handle: (req, caller) => store.serve(req, caller, false) };
}

/** A backend for the legacy `sys/policy/`: paths relative to it (`''` to list, or a policy name). */
export function legacyPolicyBackend(store: PolicyStore): LogicalBackend {
  return { handle: (req, caller) => store.serve(req, caller, true) };
}
