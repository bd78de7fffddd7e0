/**
 * The bodies of `GET sys/seal-status` and `GET|HEAD sys/health`, field for field in Vault's JSON order, and the
 * health endpoint's query parameters and status-code precedence (uninitialized → sealed → standby → active).
 */
import { StoreApiError } from '../api-error.js';

/** The facts both bodies are made of. */
export interface CoreState {
  initialized: boolean;
  sealed: boolean;
  threshold: number;
  shares: number;
  progress: number;
  nonce: string;
  version: string;
  buildDate: string;
  storageType: string;
  /** Present only while unsealed. */
  cluster: { name: string; id: string } | undefined;
  /** HA: unsealed, but another node is (or no node is yet) the active one. */
  standby?: boolean;
  /** The recorded init attempt hash while initialized and never unsealed since (src/bootstrap/init-control.ts). */
  initAttemptSha256?: string | undefined;
}

/** Vault's `SealStatusResponse` (`cluster_name`/`cluster_id` omitted while sealed, as Go's `omitempty` does). */
export function sealStatusBody(s: CoreState): Record<string, unknown> {
  const body: Record<string, unknown> = {
    type: 'shamir',
    initialized: s.initialized,
    sealed: s.sealed,
    t: s.initialized ? s.threshold : 0,
    n: s.initialized ? s.shares : 0,
    progress: s.progress,
    nonce: s.nonce,
    version: s.version,
    build_date: s.buildDate,
    migration: false,
  };
  if (!s.sealed && s.cluster !== undefined) {
    body.cluster_name = s.cluster.name;
    body.cluster_id = s.cluster.id;
  }
  body.recovery_seal = false;
  body.storage_type = s.storageType;
  body.init_attempt_supported = true;
  if (s.initAttemptSha256 !== undefined) body.init_attempt_sha256 = s.initAttemptSha256;
  return body;
}

const BOOL_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True', '']);
const BOOL_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go's strconv.ParseBool (an empty value, as in `?standbyok`, means true); anything else → 400 `{"errors":[]}`. */
function boolParam(query: Record<string, string>, name: string): boolean {
  const v = query[name];
  if (v === undefined) return false;
  if (BOOL_TRUE.has(v)) return true;
  if (BOOL_FALSE.has(v)) return false;
  throw new StoreApiError(400, []);
}

/** An integer status-code parameter (Go's strconv.Atoi), else 400 `{"errors":[]}`; must be a valid HTTP status. */
function codeParam(query: Record<string, string>, name: string, fallback: number): number {
  const v = query[name];
  if (v === undefined) return fallback;
  if (!/^[+-]?[0-9]{1,10}$/.test(v)) throw new StoreApiError(400, []);
  const code = Number.parseInt(v, 10);
  // Go would panic writing a status outside 100..999; answer 400 instead.
  if (code < 100 || code > 999) throw new StoreApiError(400, []);
  return code;
}

/** `sys/health`: the status code chosen by the query parameters and Vault's `HealthResponse` body. */
export function healthResponse(s: CoreState, query: Record<string, string>, nowMs = Date.now()): { status: number; body: Record<string, unknown> } {
  const standbyOk = boolParam(query, 'standbyok');
  boolParam(query, 'perfstandbyok');
  const activeCode = codeParam(query, 'activecode', 200);
  const standbyCode = codeParam(query, 'standbycode', 429);
  const sealedCode = codeParam(query, 'sealedcode', 503);
  const uninitCode = codeParam(query, 'uninitcode', 501);
  codeParam(query, 'drsecondarycode', 472);
  codeParam(query, 'performancestandbycode', 473);
  codeParam(query, 'perfstandbycode', 473);

  // A single node is never a standby once unsealed; Vault reports a sealed node as standby. `perfstandbyok` changes
  // nothing: there are no performance standbys here.
  const standby = s.sealed || s.standby === true;
  let status: number;
  if (!s.initialized) status = uninitCode;
  else if (s.sealed) status = sealedCode;
  else if (standby && !standbyOk) status = standbyCode;
  else status = activeCode;

  const mode = s.sealed ? 'unknown' : 'disabled';
  const body: Record<string, unknown> = {
    initialized: s.initialized,
    sealed: s.sealed,
    standby,
    performance_standby: false,
    replication_performance_mode: mode,
    replication_dr_mode: mode,
    server_time_utc: Math.floor(nowMs / 1000),
    version: s.version,
    enterprise: false,
  };
  if (!s.sealed && s.cluster !== undefined) {
    body.cluster_name = s.cluster.name;
    body.cluster_id = s.cluster.id;
  }
  return { status, body };
}
