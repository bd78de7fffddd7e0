/**
 * The two rules an EdgeX service name must pass: EdgeX's own check of `EDGEX_ADD_SECRETSTORE_TOKENS` names
 * (edgex-go `internal/security/secretstore/tokenmaintenance/constants.go`, `ServiceNameValidationRegx`), and the
 * userpass user-name check of EdgeX's secret-store client (go-mod-secrets `internal/pkg/openbao/management.go`,
 * `CreateOrUpdateUser`), which EdgeX only meets half-way through its run. A name is also a folder name
 * (`<OutputDir>/<name>/`) and a URL path segment, so passing both rules is what keeps it safe there.
 */

/** EdgeX's service-name rule, as written in its Go source (RE2: `\w` is ASCII `[0-9A-Za-z_]`). */
export const EDGEX_SERVICE_NAME_RULE = '^[\\w. \\~\\^\\-\\|\\<\\>\\{\\}]{1,512}$';

/** The userpass user-name rule of EdgeX's secret-store client. */
export const USERPASS_NAME_RULE = '^[-a-zA-Z0-9_]+$';

/** {@link EDGEX_SERVICE_NAME_RULE} in JavaScript: same characters (ASCII `\w`, no `u` flag), same length bound. */
const EDGEX_NAME = /^[\w. ~^\-|<>{}]{1,512}$/;
const USERPASS_NAME = /^[-a-zA-Z0-9_]+$/;

/** The longest name EdgeX's rule accepts. */
export const MAX_SERVICE_NAME_LENGTH = 512;

/** True when `name` passes EdgeX's rule. */
export function matchesEdgexServiceNameRule(name: string): boolean {
  return EDGEX_NAME.test(name);
}

/** True when `name` passes the userpass user-name rule. */
export function matchesUserpassNameRule(name: string): boolean {
  return USERPASS_NAME.test(name);
}

/**
 * Why `name` cannot be a service name: one phrase per rule it breaks (EdgeX's first), or an empty list when it
 * passes both. The phrases never repeat the name; callers quote it (see {@link quoteServiceName}).
 */
export function serviceNameProblems(name: string): string[] {
  const problems: string[] = [];
  if (!matchesEdgexServiceNameRule(name)) {
    if (name.length === 0) problems.push('is empty');
    else if (name.length > MAX_SERVICE_NAME_LENGTH) problems.push(`is longer than EdgeX's limit of ${MAX_SERVICE_NAME_LENGTH} characters`);
    else problems.push(`has a character EdgeX's service-name rule ${EDGEX_SERVICE_NAME_RULE} does not allow`);
  }
  if (name.length > 0 && !matchesUserpassNameRule(name)) {
    problems.push(`has a character the userpass user-name rule ${USERPASS_NAME_RULE} does not allow (only letters, digits, "-" and "_")`);
  }
  return problems;
}

/** A name quoted for a message: JSON-escaped (control characters visible) and cut to 80 characters. */
export function quoteServiceName(name: string): string {
  return name.length > 80 ? `${JSON.stringify(name.slice(0, 80))}…` : JSON.stringify(name);
}
