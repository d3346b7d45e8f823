import { isIP } from 'node:net';

/**
 * What an IP address is, as far as "may the server connect to it on a user's behalf" goes.
 * Only `public` is reachable by user-supplied URLs; every other class is refused.
 */
export type AddressClass =
  | 'public'
  | 'unspecified' // 0.0.0.0, ::
  | 'this-network' // 0.0.0.0/8
  | 'loopback' // 127.0.0.0/8, ::1
  | 'private' // 10/8, 172.16/12, 192.168/16, fec0::/10, 64:ff9b:1::/48
  | 'cgnat' // 100.64.0.0/10
  | 'link-local' // 169.254/16, fe80::/10 (cloud metadata lives here)
  | 'unique-local' // fc00::/7
  | 'multicast' // 224/4, ff00::/8
  | 'broadcast' // 255.255.255.255
  | 'documentation' // TEST-NETs, 2001:db8::/32
  | 'benchmarking' // 198.18/15
  | 'reserved' // everything else the IANA special-purpose registries set aside
  | 'invalid'; // not an IP address at all

interface V4Range {
  base: number;
  bits: number;
  cls: AddressClass;
}

// Order matters: the first matching range wins, so narrower ranges come first.
const V4_RANGES: V4Range[] = [
  ['0.0.0.0', 32, 'unspecified'],
  ['0.0.0.0', 8, 'this-network'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'cgnat'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'], // IETF protocol assignments
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, 'reserved'], // deprecated 6to4 relay anycast
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['255.255.255.255', 32, 'broadcast'],
  ['240.0.0.0', 4, 'reserved'],
].map(([base, bits, cls]) => ({
  base: parseV4(base as string),
  bits: bits as number,
  cls: cls as AddressClass,
}));

function parseV4(address: string): number {
  const parts = address.split('.').map(Number);
  return (((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0) as number;
}

function inV4Range(value: number, range: V4Range): boolean {
  if (range.bits === 0) return true;
  const mask = (0xffffffff << (32 - range.bits)) >>> 0;
  return (value & mask) >>> 0 === (range.base & mask) >>> 0;
}

function classifyV4(value: number): AddressClass {
  for (const range of V4_RANGES) if (inV4Range(value, range)) return range.cls;
  return 'public';
}

/** Parses an IPv6 address (already validated by `isIP`) into a 128-bit integer. */
function parseV6(address: string): bigint {
  let text = address;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseV4(tail);
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const missing = 8 - headGroups.length - restGroups.length;
  const groups =
    rest === undefined ? headGroups : [...headGroups, ...Array(missing).fill('0'), ...restGroups];
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(Number.parseInt(group, 16));
  return value;
}

const v6 = (prefix: string, bits: number) => ({ base: parseV6(prefix), bits });
const inV6 = (value: bigint, range: { base: bigint; bits: number }) =>
  value >> BigInt(128 - range.bits) === range.base >> BigInt(128 - range.bits);

const V6_MAPPED = v6('::ffff:0:0', 96);
const V6_NAT64 = v6('64:ff9b::', 96);
const V6_6TO4 = v6('2002::', 16);
const V6_RANGES: { base: bigint; bits: number; cls: AddressClass }[] = [
  { ...v6('64:ff9b:1::', 48), cls: 'private' }, // local-use NAT64
  { ...v6('100::', 64), cls: 'reserved' }, // discard-only
  { ...v6('2001:db8::', 32), cls: 'documentation' },
  { ...v6('2001::', 23), cls: 'reserved' }, // IETF protocol assignments, Teredo
  { ...v6('fc00::', 7), cls: 'unique-local' },
  { ...v6('fe80::', 10), cls: 'link-local' },
  { ...v6('fec0::', 10), cls: 'private' }, // deprecated site-local
  { ...v6('ff00::', 8), cls: 'multicast' },
];
const V6_GLOBAL_UNICAST = v6('2000::', 3);

function classifyV6(value: bigint): AddressClass {
  if (value === 0n) return 'unspecified';
  if (value === 1n) return 'loopback';
  // Addresses that carry an IPv4 address are judged by that address: ::ffff:127.0.0.1 reaches
  // loopback on a dual-stack socket, and a NAT64 or 6to4 gateway forwards to the embedded one.
  if (inV6(value, V6_MAPPED) || inV6(value, V6_NAT64)) return classifyV4(Number(value & 0xffffffffn));
  if (inV6(value, V6_6TO4)) return classifyV4(Number((value >> 80n) & 0xffffffffn));
  for (const range of V6_RANGES) if (inV6(value, range)) return range.cls;
  // Outside 2000::/3 nothing is assigned for global unicast (this includes the deprecated
  // IPv4-compatible ::a.b.c.d form).
  return inV6(value, V6_GLOBAL_UNICAST) ? 'public' : 'reserved';
}

/** Classifies an IPv4 or IPv6 address (IPv6 may carry a `%zone` and may be IPv4-mapped). */
export function classifyAddress(address: string): AddressClass {
  const unbracketed = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  switch (isIP(unbracketed)) {
    case 4:
      return classifyV4(parseV4(unbracketed));
    case 6:
      return classifyV6(parseV6(unbracketed));
    default:
      return 'invalid';
  }
}

/** True when a user-supplied URL may make the server connect to this address. */
export function isPublicAddress(address: string): boolean {
  return classifyAddress(address) === 'public';
}
