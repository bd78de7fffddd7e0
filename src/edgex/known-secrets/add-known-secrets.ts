/**
 * `EDGEX_ADD_KNOWN_SECRETS`: extra services that get a copy of a known secret, with EdgeX's grammar
 * (edgex-go `internal/security/secretstore/init.go`, `getKnownSecretsToAdd`):
 *
 * `name[service;service],name[service]` — the whole value trimmed (empty: nothing to add); split on `,`; each part must
 * split on `[` into exactly two pieces; the trimmed first piece must be a known secret name; the second must contain
 * `]`, whose first occurrence is dropped (text after it stays part of the list, as in EdgeX); the trimmed list must not
 * be empty; it is split on `;` and every trimmed service name must match EdgeX's service-name rule. A name may be
 * listed more than once; its lists are concatenated.
 *
 * EdgeX exits with status 1 on any error; here the one error names the bad part and restates the grammar.
 */
import { SecretStoreError } from '../../errors.js';
import { usesMessageBusSecret } from './bus-types.js';
import { MESSAGE_BUS, POSTGRES, REDISDB, type EdgexVersion, type KnownSecretName } from './known-secret-names.js';
import { isValidServiceName } from './service-name.js';

/** The environment variable's name. */
export const ADD_KNOWN_SECRETS_ENV = 'EDGEX_ADD_KNOWN_SECRETS';

/** What decides which names are known and which entries count. */
export interface AddKnownSecretsOptions {
  /** `SecureMessageBus.Type`: without a message-bus secret (redis, none, empty) `message-bus[…]` entries are ignored. */
  busType: string;
  /** `Database.Type` (EdgeX 4): `postgres` is a known name only when this is `postgres`. */
  databaseType: string;
  /** EdgeX 3.1 knows only `redisdb` and `message-bus`. */
  version: EdgexVersion;
}

/** The services to add, per known secret, in the order given (duplicates kept, as EdgeX keeps them). */
export type KnownSecretAdditions = Readonly<Record<KnownSecretName, readonly string[]>>;

/**
 * Go's `strings.TrimSpace` set: `\t \n \v \f \r`, space, U+0085, U+00A0 and Unicode White_Space above Latin-1
 * (JavaScript's `trim` differs: it also trims U+FEFF and not U+0085).
 */
const GO_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const GO_TRIM = new RegExp(`^[${GO_SPACE}]+|[${GO_SPACE}]+$`, 'g');

/** `strings.TrimSpace`. */
function goTrimSpace(text: string): string {
  return text.replace(GO_TRIM, '');
}

/** The known secret names EdgeX accepts in the variable for these settings. */
export function knownSecretNames(options: Pick<AddKnownSecretsOptions, 'databaseType' | 'version'>): KnownSecretName[] {
  const names: KnownSecretName[] = [REDISDB, MESSAGE_BUS];
  if (options.version === '4' && options.databaseType === POSTGRES) names.push(POSTGRES);
  return names;
}

/** A bounded, quoted view of (non-secret) input for messages. */
function quote(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

/**
 * Parses the variable's value (undefined or blank: nothing to add). Throws one CONFIG {@link SecretStoreError} naming
 * the offending part and the expected format.
 */
export function parseAddKnownSecrets(value: string | undefined, options: AddKnownSecretsOptions): KnownSecretAdditions {
  const additions: Record<KnownSecretName, string[]> = { [REDISDB]: [], [MESSAGE_BUS]: [], [POSTGRES]: [] };
  const trimmed = goTrimSpace(value ?? '');
  if (trimmed === '') return additions;

  const known = knownSecretNames(options);
  const fail: (problem: string) => never = (problem) => {
    throw new SecretStoreError(
      'CONFIG',
      `${ADD_KNOWN_SECRETS_ENV} is invalid: ${problem}; the format is name[service;service],name[service] ` +
        `with name one of ${known.join(', ')} and service names of 1 to 512 letters, digits or _ . space ~ ^ - | < > { }`,
    );
  };

  for (const part of trimmed.split(',')) {
    const pieces = part.split('[');
    const [head, rest] = pieces;
    if (pieces.length !== 2 || head === undefined || rest === undefined) {
      fail(`the entry ${quote(part)} must have exactly one '[' (it has ${pieces.length - 1})`);
    }
    const name = goTrimSpace(head);
    const secret = known.find((k) => k === name);
    if (secret === undefined) {
      const hint =
        name === POSTGRES
          ? options.version === '4'
            ? ` (postgres is known only when Database.Type is postgres, here ${quote(options.databaseType)})`
            : ' (EdgeX 3.1 has no postgres secret)'
          : '';
      fail(`${quote(name)} in the entry ${quote(part)} is not a known secret${hint}`);
    }
    if (!rest.includes(']')) {
      fail(`the service list of ${quote(name)} in the entry ${quote(part)} has no closing ']'`);
    }
    const list = goTrimSpace(rest.replace(']', ''));
    if (list === '') {
      fail(`the service list of ${quote(name)} in the entry ${quote(part)} is empty`);
    }
    for (const raw of list.split(';')) {
      const service = goTrimSpace(raw);
      if (!isValidServiceName(service)) {
        const why = service === '' ? 'is empty' : service === '.' || service === '..' ? 'is a relative path segment' : 'has invalid characters or is too long';
        fail(`the service name ${quote(service)} in the entry ${quote(part)} ${why}`);
      }
      additions[secret].push(service);
    }
  }
  // EdgeX validates message-bus entries, then uses them only when the bus type has a message-bus secret.
  if (!usesMessageBusSecret(options.busType)) additions[MESSAGE_BUS] = [];
  return additions;
}
