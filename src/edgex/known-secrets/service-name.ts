/**
 * The service-name rule of EdgeX's secret store setup (edgex-go
 * `internal/security/secretstore/tokenmaintenance/constants.go`, `ServiceNameValidationRegx`), shared by
 * `EDGEX_ADD_KNOWN_SECRETS` and `EDGEX_ADD_SECRETSTORE_TOKENS`: 1 to 512 of ASCII letters, digits, `_`, `.`, space,
 * `~`, `^`, `-`, `|`, `<`, `>`, `{`, `}`.
 */

/**
 * EdgeX's pattern, unchanged. Go's `\w` is ASCII-only like JavaScript's (without the `u` and `i` flags), and Go's `$`
 * without the `m` flag matches only at the very end, like JavaScript's.
 */
export const EDGEX_SERVICE_NAME_PATTERN = /^[\w. ~^\-|<>{}]{1,512}$/;

/**
 * True when `name` may be used as a service name in a secret path: EdgeX's pattern, and (stricter than EdgeX) not
 * `.` or `..`, which the pattern allows but which a URL resolves as "this folder" / "the parent folder" — EdgeX would
 * then write `secret/edgex/../redisdb` to `secret/redisdb`.
 */
export function isValidServiceName(name: string): boolean {
  return EDGEX_SERVICE_NAME_PATTERN.test(name) && name !== '.' && name !== '..';
}
