/**
 * CIDR blocks as Vault's `token_bound_cidrs` and `bound_cidrs` take them: IPv4 or IPv6 blocks (`10.0.0.0/8`,
 * `fd00::/8`) or single addresses (`127.0.0.1`, `::1`), validated on write and matched against the client's socket
 * address on login and token use. Entries are stored in one canonical spelling (lower-case, RFC 5952 compressed
 * IPv6, the prefix left out for a single address as Vault's sockaddr prints it, an IPv4-mapped IPv6 entry written as
 * IPv4) so a GET shows what the check uses. The check itself is node:net's BlockList.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { badRequest } from '../api-error.js';

/**
 * Most entries one CIDR list may hold: every login and token use of a bound token builds a matcher from the list,
 * so an unbounded list would be an amplifier.
 */
export const MAX_CIDR_ENTRIES = 1024;

/** An address family and the parts of one parsed entry. */
interface ParsedCidr {
  family: 'ipv4' | 'ipv6';
  address: string;
  prefix: number;
}

/** The 8 groups of an IPv6 address (zone id already removed); undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  if (!isIPv6(address)) return undefined;
  let text = address.toLowerCase();
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // An embedded IPv4 tail (`::ffff:1.2.3.4`) stands for the last two groups: rewrite it as those two groups.
    const o = last.split('.').map(Number);
    const hi = ((o[0] ?? 0) << 8) | (o[1] ?? 0);
    const lo = ((o[2] ?? 0) << 8) | (o[3] ?? 0);
    text = text.slice(0, lastColon + 1) + hi.toString(16) + ':' + lo.toString(16);
  }
  const halves = text.split('::');
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0] ?? '');
  const rest = halves.length > 1 ? parse(halves[1] ?? '') : [];
  const fill = 8 - head.length - rest.length;
  const groups = halves.length > 1 ? [...head, ...new Array<number>(fill).fill(0), ...rest] : head;
  return groups.length === 8 ? groups : undefined;
}

/** RFC 5952 text of 8 groups: lower-case hex, the longest run (of two or more) of zero groups as `::`. */
function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}

/** The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) stands for; undefined for any other address. */
function mappedIpv4(groups: readonly number[]): string | undefined {
  if (groups.slice(0, 5).some((g) => g !== 0) || groups[5] !== 0xffff) return undefined;
  const hi = groups[6] ?? 0;
  const lo = groups[7] ?? 0;
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/**
 * The canonical form of a client address for matching and for keying per-address state: a zone id (`%eth0`)
 * dropped, an IPv4-mapped IPv6 address as IPv4, IPv6 in RFC 5952 form. Undefined when `address` is not an IP
 * address.
 */
export function normalizeAddress(address: string): string | undefined {
  const bare = address.trim().replace(/%.*$/, '');
  if (isIPv4(bare)) return bare;
  const groups = ipv6Groups(bare);
  if (groups === undefined) return undefined;
  return mappedIpv4(groups) ?? formatIpv6(groups);
}

/** Parses one entry; undefined when it is neither an address nor a block. */
function parseEntry(entry: string): ParsedCidr | undefined {
  const slash = entry.indexOf('/');
  const addressText = slash === -1 ? entry : entry.slice(0, slash);
  const prefixText = slash === -1 ? undefined : entry.slice(slash + 1);
  if (prefixText !== undefined && !/^[0-9]{1,3}$/.test(prefixText)) return undefined;
  // Zone ids name an interface of the client's host, meaningless in a bound list: refused rather than ignored.
  if (addressText.includes('%')) return undefined;
  if (isIPv4(addressText)) {
    const prefix = prefixText === undefined ? 32 : Number(prefixText);
    return prefix > 32 ? undefined : { family: 'ipv4', address: addressText, prefix };
  }
  const groups = ipv6Groups(addressText);
  if (groups === undefined) return undefined;
  const prefix = prefixText === undefined ? 128 : Number(prefixText);
  if (prefix > 128) return undefined;
  const v4 = mappedIpv4(groups);
  // A mapped block that lies wholly in ::ffff:0:0/96 is the IPv4 block it maps (Go's sockaddr reads it as IPv4 too).
  if (v4 !== undefined && prefix >= 96) return { family: 'ipv4', address: v4, prefix: prefix - 96 };
  return { family: 'ipv6', address: formatIpv6(groups), prefix };
}

/** The canonical text of a parsed entry: the bare address for a single host, `address/prefix` otherwise. */
function entryText(p: ParsedCidr): string {
  const full = p.family === 'ipv4' ? 32 : 128;
  return p.prefix === full ? p.address : `${p.address}/${p.prefix}`;
}

/**
 * Validates and normalizes a list of CIDR blocks or addresses given for `field` (e.g. `token_bound_cidrs`).
 * Throws 400 with Vault's message for an entry that is neither: `error parsing address "x": Unable to convert "x"
 * to an IPv4 or IPv6 address, or a UNIX Socket` (UNIX socket paths, which Vault's parser also takes, are refused:
 * a store client always arrives over TCP). Entries are trimmed; duplicates are kept once, in order.
 */
export function parseCidrList(values: readonly string[], field: string): string[] {
  if (values.length > MAX_CIDR_ENTRIES) throw badRequest(`too many entries in "${field}" (at most ${MAX_CIDR_ENTRIES})`);
  const out: string[] = [];
  for (const raw of values) {
    const entry = raw.trim();
    const parsed = parseEntry(entry);
    if (parsed === undefined) {
      throw badRequest(`error parsing address "${entry}": Unable to convert "${entry}" to an IPv4 or IPv6 address, or a UNIX Socket`);
    }
    const text = entryText(parsed);
    if (!out.includes(text)) out.push(text);
  }
  return out;
}

/**
 * Whether the client at `address` may proceed under `cidrs` (entries as {@link parseCidrList} returns them): true
 * when `cidrs` is empty (unbound); false when the address is unknown or not an IP address, since a bound secret
 * must not be usable from a place nobody can vouch for. IPv4-mapped IPv6 client addresses (`::ffff:127.0.0.1`, how
 * a dual-stack socket reports IPv4 peers) match IPv4 blocks.
 */
export function addressInCidrs(address: string | undefined, cidrs: readonly string[]): boolean {
  if (cidrs.length === 0) return true;
  if (address === undefined) return false;
  const client = normalizeAddress(address);
  if (client === undefined) return false;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const p = parseEntry(cidr);
    // A stored entry that no longer parses allows nothing (it cannot widen the set).
    if (p !== undefined) list.addSubnet(p.address, p.prefix, p.family);
  }
  return list.check(client, isIPv4(client) ? 'ipv4' : 'ipv6');
}
