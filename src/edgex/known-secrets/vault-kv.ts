/**
 * {@link KnownSecretsKv} over a {@link VaultClient}: KV v1 at `secret/`, as EdgeX's `Cred` type uses it (edgex-go
 * `internal/security/secretstore/password.go`): `GET /v1/<path>` → 200 with `data.username`/`data.password`
 * (present when both are non-empty strings), 404 = absent, any other status fatal; `POST /v1/<path>
 * {"username","password"}` → 200 or 204. Path segments are percent-encoded (service names may hold spaces, `{`, `|`…).
 * The request body is built as bytes and wiped after the call; the token travels only in the header.
 */
import { wipe } from '../../crypto.js';
import type { VaultClient } from '../../vault/client.js';
import { credentialJson, type UserPassword } from './credential.js';
import type { KnownSecretsKv } from './apply-known-secrets.js';

/** `a/b c/d` → `a/b%20c/d`: each segment percent-encoded, the slashes kept. */
export function encodeSecretPath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** The fields of a KV v1 read, or undefined when the body is not an object with an object `data`. */
function dataOf(body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const data = (body as Record<string, unknown>).data;
  return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
}

/** The adapter; `token` needs read and create on `secret/edgex/*` (EdgeX uses the transient root token). */
export function vaultKnownSecretsKv(client: VaultClient, token: string): KnownSecretsKv {
  return {
    async read(path: string): Promise<UserPassword | undefined | 'invalid'> {
      const res = await client.request('GET', encodeSecretPath(path), { token });
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw client.statusError(res, path);
      const data = dataOf(res.body);
      const username = data?.username;
      const password = data?.password;
      if (typeof username !== 'string' || username === '' || typeof password !== 'string' || password === '') return 'invalid';
      return { username, password: Buffer.from(password, 'utf8') };
    },
    async write(path: string, credential: UserPassword): Promise<void> {
      const body = credentialJson(credential);
      try {
        await client.call('POST', encodeSecretPath(path), { token, body, idempotent: true }, [200, 204], path);
      } finally {
        wipe(body);
      }
    },
  };
}
