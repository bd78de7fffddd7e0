/**
 * eKuiper's secure message bus files (edgex-go `internal/security/secretstore/secure-messagebus.go`): EdgeX rewrites
 * eKuiper's EdgeX source file (`SecureMessageBus.KuiperConfigPath`, default `/tmp/kuiper/edgex.yaml`) and its
 * connections file (`SecureMessageBus.KuiperConnectionsPath`, default `/tmp/kuiper-connections/connection.yaml`) on
 * every boot with the bus credentials in clear — but only files that already exist (their presence says the installed
 * eKuiper uses them). Redis bus: the `redisdb` credentials, `edgex.redisMsgBus`, port 6379; MQTT bus: the
 * `message-bus` credentials, `edgex.mqttMsgBus`, port 1883; server `localhost`; no bus (`none`, empty): nothing;
 * any other type: a CONFIG error, before any file is looked at.
 *
 * The YAML has EdgeX's template text and key order; the user name and password are written as double-quoted scalars
 * (EdgeX pastes them in unquoted, which breaks on a password holding `: `, ` #` or a leading quote, and turns `123`
 * or `yes` into a number or a boolean). The replacement is atomic (EdgeX truncates in place) and keeps the old file's
 * mode and owner — eKuiper runs as another user and must still read it; a symbolic link at the path is replaced by
 * the new file, never written through.
 */
import { chown, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Stats } from 'node:fs';
import { wipe } from '../../crypto.js';
import { SecretStoreError, describeCause } from '../../errors.js';
import { ensureSecretDir, renameDurable, writeTempFile } from '../../keyfile/atomic-write.js';
import type { Logger } from '../../log.js';
import { MQTT_BUS, REDIS_BUS, isNoBus } from '../known-secrets/bus-types.js';
import { quotedBytes, type UserPassword } from '../known-secrets/credential.js';
import { MESSAGE_BUS, REDISDB, type KnownSecretName } from '../known-secrets/known-secret-names.js';

/** EdgeX's default `SecureMessageBus.KuiperConfigPath`. */
export const DEFAULT_KUIPER_CONFIG_PATH = '/tmp/kuiper/edgex.yaml';
/** EdgeX's default `SecureMessageBus.KuiperConnectionsPath`. */
export const DEFAULT_KUIPER_CONNECTIONS_PATH = '/tmp/kuiper-connections/connection.yaml';

/** The `SecureMessageBus` settings used here. */
export interface KuiperSettings {
  /** `SecureMessageBus.Type`. */
  busType: string;
  /** `SecureMessageBus.KuiperConfigPath` (the EdgeX source file). */
  kuiperConfigPath: string;
  /** `SecureMessageBus.KuiperConnectionsPath`. */
  kuiperConnectionsPath: string;
}

/** The bus-specific values of the templates (EdgeX's `eKuiperFields` less the credentials). */
export interface KuiperBusFields {
  /** The known secret whose credentials the files carry. */
  secret: KnownSecretName;
  /** `edgex.redisMsgBus` or `edgex.mqttMsgBus`. */
  connectionSelector: string;
  /** `redisMsgBus` or `mqttMsgBus`. */
  connectorName: string;
  /** `redis` or `tcp`. */
  protocol: string;
  /** `redis` or `mqtt`. */
  type: string;
  /** 6379 or 1883. */
  port: number;
}

/** The template values for a bus type: undefined for no bus, CONFIG error for a type eKuiper is not set up for. */
export function kuiperBusFields(busType: string): KuiperBusFields | undefined {
  if (busType === REDIS_BUS) {
    return { secret: REDISDB, connectionSelector: 'edgex.redisMsgBus', connectorName: 'redisMsgBus', protocol: 'redis', type: REDIS_BUS, port: 6379 };
  }
  if (busType === MQTT_BUS) {
    return { secret: MESSAGE_BUS, connectionSelector: 'edgex.mqttMsgBus', connectorName: 'mqttMsgBus', protocol: 'tcp', type: MQTT_BUS, port: 1883 };
  }
  if (isNoBus(busType)) return undefined;
  throw new SecretStoreError(
    'CONFIG',
    `invalid SecureMessageBus.Type ${JSON.stringify(busType)} for the eKuiper files; use redis, mqtt or none (or set SECUREMESSAGEBUS_TYPE)`,
  );
}

/** Joins text pieces and credential bytes into one Buffer (the quoted credential Buffers are wiped). */
function render(pieces: readonly (string | Buffer)[]): Buffer {
  try {
    return Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
  } finally {
    for (const p of pieces) if (typeof p !== 'string') wipe(p);
  }
}

/** EdgeX's `eKuiperEdgeXSourceTemplate` filled in; the caller wipes the result. */
export function kuiperSourcesYaml(fields: KuiperBusFields, credential: UserPassword): Buffer {
  return render([
    `
application_conf:
  port: 5571
  protocol: tcp
  server: localhost
  topic: application
default:
  optional:
    Username: `,
    quotedBytes(Buffer.from(credential.username, 'utf8')),
    `
    Password: `,
    quotedBytes(credential.password),
    `
  port: ${fields.port}
  protocol: ${fields.protocol}
  server: localhost
  connectionSelector: ${fields.connectionSelector}
  topic: rules-events
  type: ${fields.type}
mqtt_conf:
  optional:
    ClientId: client1
  port: 1883
  protocol: tcp
  server: localhost
  topic: events
  type: mqtt
`,
  ]);
}

/** EdgeX's `eKuiperConnectionsTemplate` filled in; the caller wipes the result. */
export function kuiperConnectionsYaml(fields: KuiperBusFields, credential: UserPassword): Buffer {
  return render([
    `
edgex:
  ${fields.connectorName}: #connection key
    protocol: ${fields.protocol}
    server: localhost
    port: ${fields.port}
    type: ${fields.type}
    optional:
      Username: `,
    quotedBytes(Buffer.from(credential.username, 'utf8')),
    `
      Password: `,
    quotedBytes(credential.password),
    `
`,
  ]);
}

/** The file's status, or undefined when it does not exist (EdgeX: `os.Stat` failing with "not exist"). */
async function statIfPresent(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    if (describeCause(err) === 'ENOENT') return undefined;
    throw new SecretStoreError('IO', `cannot check the eKuiper file ${path} (${describeCause(err)})`, { cause: err });
  }
}

/** Replaces `path` atomically with `data`, keeping `old`'s mode and owner. */
async function replaceKeeping(path: string, data: Buffer, old: Stats): Promise<void> {
  ensureSecretDir(dirname(path));
  const tmp = writeTempFile(path, data, old.mode & 0o7777);
  try {
    if (old.uid !== process.getuid?.() || old.gid !== process.getgid?.()) {
      try {
        await chown(tmp, old.uid, old.gid);
      } catch (err) {
        throw new SecretStoreError(
          'IO',
          `cannot give the new ${path} the owner ${old.uid}:${old.gid} of the old one (${describeCause(err)}); run the setup as root; the old file is unchanged`,
          { cause: err },
        );
      }
    }
    renameDurable(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** What {@link configureKuiperFiles} did. */
export interface KuiperFilesResult {
  /** Files rewritten. */
  written: string[];
  /** Files absent, left alone. */
  skipped: string[];
}

/**
 * Rewrites the eKuiper files that exist with the bus credentials taken from `credentials` (the shared values
 * `ensureKnownSecrets` returns). Nothing for no bus; CONFIG for another bus type, or when the needed credential
 * is missing; IO when a file cannot be replaced.
 */
export async function configureKuiperFiles(
  settings: KuiperSettings,
  credentials: Partial<Record<KnownSecretName, UserPassword>>,
  log: Logger,
): Promise<KuiperFilesResult> {
  const result: KuiperFilesResult = { written: [], skipped: [] };
  const fields = kuiperBusFields(settings.busType);
  if (fields === undefined) return result;
  const credential = credentials[fields.secret];
  if (credential === undefined) {
    throw new SecretStoreError('INTERNAL', `the ${fields.secret} credentials needed for the eKuiper files were not provided`);
  }
  const files: { kind: string; path: string; build: () => Buffer }[] = [
    { kind: 'EdgeX source', path: settings.kuiperConfigPath, build: () => kuiperSourcesYaml(fields, credential) },
    { kind: 'connections', path: settings.kuiperConnectionsPath, build: () => kuiperConnectionsYaml(fields, credential) },
  ];
  for (const file of files) {
    const old = file.path === '' ? undefined : await statIfPresent(file.path);
    if (old === undefined) {
      log.info('eKuiper file absent, not written (the installed eKuiper does not use it)', { file: file.kind, path: file.path });
      result.skipped.push(file.path);
      continue;
    }
    if (!old.isFile()) throw new SecretStoreError('IO', `the eKuiper ${file.kind} file ${file.path} is not a regular file; fix SecureMessageBus settings`);
    const data = file.build();
    try {
      await replaceKeeping(file.path, data, old);
    } finally {
      wipe(data);
    }
    log.info('eKuiper file written with the secure message bus credentials', { file: file.kind, path: file.path, bus: fields.type });
    result.written.push(file.path);
  }
  return result;
}
