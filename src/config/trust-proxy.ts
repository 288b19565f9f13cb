import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Fastify's `trustProxy`, restricted to the forms that cannot be spoofed: off, or the proxies'
 * addresses. `true` (trust every hop) and a hop count are refused: neither checks that the peer is
 * a proxy, so a client connecting directly could name any address in X-Forwarded-For and escape
 * every per-address limit. (Fastify 5 itself treats a number as "trust nothing", which would
 * silently undo the setting.)
 */
export type TrustProxy = false | string[];

// proxy-addr's names for the reserved ranges, which Fastify accepts in place of addresses.
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isAddressOrCidr(entry: string): boolean {
  if (RANGE_NAMES.has(entry)) return true;
  const [address = '', prefix, extra] = entry.split('/');
  if (extra !== undefined) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

export const trustProxySetting = z
  .string()
  .optional()
  .transform((value, context): TrustProxy => {
    const text = value?.trim() ?? '';
    if (text === '' || text === 'false') return false;
    if (text === 'true' || /^\d+$/.test(text)) {
      context.addIssue({
        code: 'custom',
        message: `"${text}" would let a client that connects directly choose its own address; list the proxies' addresses or CIDR ranges (e.g. 10.0.0.0/8 or uniquelocal)`,
      });
      return z.NEVER;
    }
    const entries = text.split(',').map((entry) => entry.trim());
    const bad = entries.filter((entry) => !isAddressOrCidr(entry));
    if (bad.length === 0) return entries;
    context.addIssue({
      code: 'custom',
      message: `must be a comma-separated list of IP addresses or CIDR ranges (not ${bad
        .map((entry) => JSON.stringify(entry))
        .join(', ')})`,
    });
    return z.NEVER;
  });
