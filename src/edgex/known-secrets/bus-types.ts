/**
 * EdgeX's secure message bus types (`SecureMessageBus.Type`) and which known secret each one uses
 * (edgex-go `internal/security/secretstore/secure-messagebus.go` constants, `init.go`'s message-bus branch).
 * Types compare exactly, as EdgeX compares them (no case folding, no trimming).
 */

/** The Redis bus: clients use the `redisdb` credentials. */
export const REDIS_BUS = 'redis';
/** The MQTT bus: clients use the `message-bus` credentials. */
export const MQTT_BUS = 'mqtt';
/** No secure bus. */
export const NONE_BUS = 'none';

/**
 * True when the bus type gets its own `message-bus` secret: any type except `redis`, `none` and the empty string
 * (EdgeX generates it for unknown types too, e.g. `nats`).
 */
export function usesMessageBusSecret(busType: string): boolean {
  return busType !== REDIS_BUS && busType !== NONE_BUS && busType !== '';
}

/** True when there is no secure bus at all (`none` or empty). */
export function isNoBus(busType: string): boolean {
  return busType === NONE_BUS || busType === '';
}
