import { describe, expect, it } from 'vitest';
import { addressGroup } from './address.js';

describe('addressGroup', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:10.0.0.7', '10.0.0.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:db8:1::', '2001:db8:1:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['1::2:3:4:5:192.0.2.1', '1:0:2:3::/64'],
    ['not an address', 'not an address'],
  ])('%s counts as %s', (address, group) => {
    expect(addressGroup(address)).toBe(group);
  });

  it('puts two hosts of one /64 together, and neighbouring /64s apart', () => {
    expect(addressGroup('2001:db8:a:b::1')).toBe(addressGroup('2001:db8:a:b:ffff:ffff:ffff:ffff'));
    expect(addressGroup('2001:db8:a:b::1')).not.toBe(addressGroup('2001:db8:a:c::1'));
  });
});
