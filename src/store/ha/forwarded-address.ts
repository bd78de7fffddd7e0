/**
 * The client's address across request forwarding. A standby that forwards a request names the client's address in
 * one header, MACed (HMAC-SHA256) under a key every unsealed node of the cluster derives from the root key, and bound
 * to the request's method and target and to the time, so the active node can apply bound-CIDR checks (and login
 * throttling) to the real client. The active node believes the header only when the MAC verifies and the time is
 * recent; anything else — no header, a forged or stale one — leaves the socket's address in force, as for any
 * direct request. The header does not hide the request from an eavesdropper: use TLS between nodes.
 */
import { isIP } from 'node:net';
import { constantTimeEqual, hmacSha256 } from '../../crypto.js';

/** The header (lower case, as node:http shows it): `<address> <unix ms> <base64url MAC>`. */
export const FORWARDED_CLIENT_HEADER = 'x-secretstore-forwarded-client';

/** How far a forwarded header's time may be from the active node's clock (replay window, clock skew). */
export const FORWARDED_MAX_SKEW_MS = 30_000;

function macInput(address: string, at: number, method: string, target: string): string {
  return `secretstore-forwarded-client\n${address}\n${String(at)}\n${method}\n${target}`;
}

/** The header value a standby sends for a request from `address`. */
export function signForwardedClient(key: Buffer, address: string, method: string, target: string, nowMs = Date.now()): string {
  const mac = hmacSha256(key, macInput(address, nowMs, method, target));
  return `${address} ${String(nowMs)} ${mac.toString('base64url')}`;
}

/** The vouched-for client address, or undefined unless `value` carries a valid, recent MAC for this request. */
export function verifyForwardedClient(key: Buffer, value: string, method: string, target: string, nowMs = Date.now()): string | undefined {
  const parts = value.split(' ');
  if (parts.length !== 3) return undefined;
  const [address = '', atText = '', macText = ''] = parts;
  if (isIP(address) === 0 || !/^[0-9]{1,15}$/.test(atText) || !/^[A-Za-z0-9_-]{43}$/.test(macText)) return undefined;
  const at = Number(atText);
  if (Math.abs(nowMs - at) > FORWARDED_MAX_SKEW_MS) return undefined;
  const expected = hmacSha256(key, macInput(address, at, method, target));
  return constantTimeEqual(expected, Buffer.from(macText, 'base64url')) ? address : undefined;
}
