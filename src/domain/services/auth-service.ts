import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.js';
import { SCOPES, type Principal } from '../principal.js';

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/**
 * Turns a presented credential into a Principal. Until organizations, users and API keys exist,
 * the only credential is ADMIN_API_KEY; with it unset nothing can authenticate, by design.
 */
export class AuthService {
  private readonly adminKeyDigest: Buffer | undefined;

  constructor(options: { adminApiKey?: string }) {
    this.adminKeyDigest = options.adminApiKey ? digest(options.adminApiKey) : undefined;
  }

  authenticate(authorization: string | undefined): Principal {
    const credential = parseBearer(authorization);
    // Comparing fixed-length digests keeps the comparison constant-time regardless of input length.
    if (this.adminKeyDigest && timingSafeEqual(digest(credential), this.adminKeyDigest)) {
      return { id: 'platform_admin', kind: 'platform_admin', scopes: new Set(SCOPES) };
    }
    throw new AppError('UNAUTHORIZED', { message: 'Invalid credentials' });
  }
}

function parseBearer(authorization: string | undefined): string {
  if (authorization === undefined || authorization === '') {
    throw new AppError('UNAUTHORIZED', { message: 'Missing Authorization header' });
  }
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization);
  if (!match?.[1]) {
    throw new AppError('UNAUTHORIZED', {
      message: 'Authorization header must be "Bearer <credential>"',
    });
  }
  return match[1];
}
