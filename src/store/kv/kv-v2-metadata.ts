/**
 * KV v2's stored state and its rules, independent of request handling: the mount config, each key's metadata (its
 * versions with their created/deletion times and destroyed flags), version pruning beyond `max_versions`
 * (Vault's `KeyMetadata.AddVersion`), the effective `delete_version_after`, and the JSON shapes reads return.
 */
import { rfc3339Nano } from './time.js';
import { goDurationString } from '../tokens/duration.js';

/** Vault keeps 10 versions when neither the key nor the mount sets `max_versions`. */
export const DEFAULT_MAX_VERSIONS = 10;

/** The mount-wide settings (`<mount>/config`). */
export interface KvConfig {
  max_versions: number;
  cas_required: boolean;
  /** Seconds; 0 = versions are never deleted automatically. */
  delete_version_after: number;
}

/** One version's metadata. */
export interface VersionMeta {
  createdMs: number;
  /** When the version is (or becomes) deleted, epoch ms; 0 = not deleted. */
  deletionMs: number;
  destroyed: boolean;
}

/** A key's metadata (`metadata/<path>`). */
export interface KeyMeta {
  createdMs: number;
  updatedMs: number;
  currentVersion: number;
  oldestVersion: number;
  maxVersions: number;
  casRequired: boolean;
  /** Seconds; 0 = use the mount's. */
  deleteVersionAfter: number;
  customMetadata: Record<string, string> | null;
  versions: Record<string, VersionMeta>;
}

/** A fresh mount config. */
export function defaultConfig(): KvConfig {
  return { max_versions: 0, cas_required: false, delete_version_after: 0 };
}

/** Fresh metadata for a key first written at `nowMs` (times are set by the first version). */
export function newKeyMeta(): KeyMeta {
  return {
    createdMs: 0,
    updatedMs: 0,
    currentVersion: 0,
    oldestVersion: 0,
    maxVersions: 0,
    casRequired: false,
    deleteVersionAfter: 0,
    customMetadata: null,
    versions: {},
  };
}

/** Whether a version is deleted at `nowMs` (a deletion time in the future is only scheduled). */
export function isDeleted(v: VersionMeta, nowMs: number): boolean {
  return v.deletionMs !== 0 && v.deletionMs <= nowMs;
}

/** The `delete_version_after` applying to new versions: the key's when set and shorter than the mount's. */
export function effectiveDeleteAfter(meta: KeyMeta, config: KvConfig): number {
  const k = meta.deleteVersionAfter;
  const c = config.delete_version_after;
  if (k > 0 && (c <= 0 || k < c)) return k;
  return c > 0 ? c : 0;
}

/**
 * Adds a version (Vault's AddVersion) and returns the versions whose data must now be deleted because they fall
 * outside `max_versions` (the key's, else the mount's, else 10).
 */
export function addVersion(meta: KeyMeta, vm: VersionMeta, config: KvConfig): number[] {
  meta.currentVersion++;
  meta.versions[String(meta.currentVersion)] = vm;
  meta.updatedMs = vm.createdMs;
  if (meta.createdMs === 0) meta.createdMs = vm.createdMs;
  const max = meta.maxVersions > 0 ? meta.maxVersions : config.max_versions > 0 ? config.max_versions : DEFAULT_MAX_VERSIONS;
  const pruned: number[] = [];
  if (meta.currentVersion - meta.oldestVersion >= max) {
    const toDelete = meta.currentVersion - max;
    for (let i = meta.oldestVersion; i <= toDelete; i++) {
      if (meta.versions[String(i)] !== undefined) pruned.push(i);
      Reflect.deleteProperty(meta.versions, String(i));
    }
    meta.oldestVersion = toDelete + 1;
  }
  return pruned;
}

function time(ms: number): string {
  return ms === 0 ? '' : rfc3339Nano(ms);
}

/** The `metadata` object of a data read/write response for version `n`. */
export function versionInfo(meta: KeyMeta, n: number, v: VersionMeta): Record<string, unknown> {
  return {
    created_time: time(v.createdMs),
    custom_metadata: meta.customMetadata,
    deletion_time: time(v.deletionMs),
    destroyed: v.destroyed,
    version: n,
  };
}

/** The `data` of a `metadata/<path>` read. */
export function metadataData(meta: KeyMeta): Record<string, unknown> {
  const versions: Record<string, unknown> = {};
  for (const [n, v] of Object.entries(meta.versions)) {
    versions[n] = { created_time: time(v.createdMs), deletion_time: time(v.deletionMs), destroyed: v.destroyed };
  }
  return {
    cas_required: meta.casRequired,
    created_time: time(meta.createdMs),
    current_version: meta.currentVersion,
    custom_metadata: meta.customMetadata,
    delete_version_after: goDurationString(meta.deleteVersionAfter),
    max_versions: meta.maxVersions,
    oldest_version: meta.oldestVersion,
    updated_time: time(meta.updatedMs),
    versions,
  };
}

/** The `data` of a `config` read. */
export function configData(config: KvConfig): Record<string, unknown> {
  return {
    cas_required: config.cas_required,
    delete_version_after: goDurationString(config.delete_version_after),
    max_versions: config.max_versions,
  };
}
