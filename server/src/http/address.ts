import { isIPv4, isIPv6 } from 'node:net';

/**
 * The group a client address counts in for per-address limits: an IPv4 address alone (also when
 * written IPv4-mapped, `::ffff:192.0.2.1`), an IPv6 address by its /64 — one subscriber's whole
 * network, which one host can hop around freely.
 */
export function addressGroup(address: string): string {
  const ip = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') && tail ? tail.split(':') : [];
  // An embedded IPv4 tail (`64:ff9b::192.0.2.1`) stands for two groups: `::` fills what is left.
  const width = left.length + right.length + (ip.includes('.') ? 1 : 0);
  const groups = [...left, ...Array<string>(Math.max(0, 8 - width)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
