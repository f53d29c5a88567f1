import { BlockList, isIP } from 'node:net';

/**
 * One entry of an IP allow list: a single address, or a CIDR range when `prefixLength` is set.
 *
 * @internal
 */
export interface IpAllowListEntry {
  address: string;
  family: 'ipv4' | 'ipv6';
  prefixLength?: number;
}

const CIDR_PATTERN = /^([^/]+)\/(\d{1,3})$/;

/**
 * Parses an allow-list entry such as `'10.0.0.1'`, `'10.0.0.0/8'`, `'::1'` or `'2001:db8::/32'`.
 *
 * @remarks
 * Returns `undefined` when the entry is neither an IP address nor a CIDR range with a prefix length that fits
 * the address family, so that callers can name the bad entry in their own error.
 *
 * @internal
 */
export function parseIpAllowListEntry(entry: string): IpAllowListEntry | undefined {
  const cidr = CIDR_PATTERN.exec(entry);
  const address = cidr ? cidr[1] : entry;
  const version = isIP(address);
  if (version === 0) {
    return undefined;
  }
  const family = version === 4 ? 'ipv4' : 'ipv6';
  if (!cidr) {
    return { address, family };
  }
  const prefixLength = Number(cidr[2]);
  if (prefixLength > (family === 'ipv4' ? 32 : 128)) {
    return undefined;
  }
  return { address, family, prefixLength };
}

/**
 * Compiles an allow list into a predicate on a client address.
 *
 * @remarks
 * Entries must already be valid (see {@link parseIpAllowListEntry}); an invalid one throws a `TypeError`.
 * Node's `BlockList` does the matching, and it treats an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) as the
 * IPv4 address it carries, in both the list and the address checked, so a dual-stack server that reports
 * IPv4 clients in mapped form matches IPv4 entries. An `undefined` or malformed address never matches.
 *
 * @param entries - Addresses and CIDR ranges, IPv4 or IPv6.
 * @internal
 */
export function createIpAllowList(entries: readonly string[]): (ip: string | undefined) => boolean {
  if (entries.length === 0) {
    return function allowNone() {
      return false;
    };
  }
  const list = new BlockList();
  for (const entry of entries) {
    const parsed = parseIpAllowListEntry(entry);
    if (!parsed) {
      throw new TypeError(`Not an IP address or CIDR range: ${JSON.stringify(entry)}`);
    }
    if (parsed.prefixLength === undefined) {
      list.addAddress(parsed.address, parsed.family);
    } else {
      list.addSubnet(parsed.address, parsed.prefixLength, parsed.family);
    }
  }
  return function isAllowed(ip) {
    if (ip === undefined) {
      return false;
    }
    const version = isIP(ip);
    return version !== 0 && list.check(ip, version === 4 ? 'ipv4' : 'ipv6');
  };
}
