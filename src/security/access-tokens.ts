import { randomBytes } from 'node:crypto';
import { errors, jwtVerify, SignJWT, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { AppError } from '../domain/errors.js';
import type { AccessTokenClaims, AccessTokenIssuer } from '../domain/identity/ports.js';
import type { Role } from '../domain/identity/model.js';
import { loadKeys, type VerificationKey } from './signing-keys.js';

export interface AccessTokenOptions {
  /** `iss` of issued tokens, and the only one accepted. */
  issuer: string;
  /** `aud` of issued tokens, and the only one accepted. */
  audience: string;
  /** The signing key is generated into `<dataDir>/jwt/signing-key.pem` unless `privateKeyFile`. */
  dataDir: string;
  /** PKCS#8 PEM of an EC P-256 private key. */
  privateKeyFile?: string;
  /** Public keys still accepted after a rotation; replaces the `<dataDir>/jwt/previous/` scan. */
  extraPublicKeyFiles?: string[];
  now?: () => Date;
}

const TTL_SECONDS = 15 * 60;
const CLOCK_TOLERANCE_SECONDS = 30;
const TOKEN_TYPE = 'at+jwt';
const ALGORITHM = 'ES256';
// Far beyond any token we issue; refuses absurd input before any parsing or crypto.
const MAX_TOKEN_LENGTH = 4096;
const ROLES: readonly Role[] = ['admin', 'member', 'viewer'];

// Messages stay generic: which check failed helps an attacker more than a legitimate client.
function invalidToken(): AppError {
  return new AppError('UNAUTHORIZED', { message: 'Access token is invalid' });
}

function expiredToken(): AppError {
  return new AppError('UNAUTHORIZED', { message: 'Access token has expired' });
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

function claimsOf(payload: JWTPayload): AccessTokenClaims {
  const { sub, jti, exp, sid, org, role } = payload;
  if (
    !nonEmptyString(sub) ||
    !nonEmptyString(jti) ||
    typeof exp !== 'number' ||
    !nonEmptyString(sid) ||
    !nonEmptyString(org) ||
    !isRole(role)
  ) {
    throw invalidToken();
  }
  return { sub, jti, sessionId: sid, organizationId: org, role, expiresAt: new Date(exp * 1000) };
}

/** ES256 access tokens (RFC 9068 `at+jwt`), verified against the signing key and rotated-out keys. */
export async function createAccessTokens(options: AccessTokenOptions): Promise<AccessTokenIssuer> {
  const { signing, verification } = await loadKeys(options);
  const now = options.now ?? (() => new Date());
  const byKid = new Map<string, VerificationKey>(verification.map((key) => [key.kid, key]));

  const keyFor = (header: JWTHeaderParameters) => {
    const key = header.kid === undefined ? undefined : byKid.get(header.kid);
    if (key === undefined) throw invalidToken();
    return key.publicKey;
  };

  return {
    ttlSeconds: TTL_SECONDS,

    async issue(claims) {
      const issuedAt = Math.floor(now().getTime() / 1000);
      const expiresAt = issuedAt + TTL_SECONDS;
      const jti = randomBytes(16).toString('base64url');
      const token = await new SignJWT({
        sid: claims.sessionId,
        org: claims.organizationId,
        role: claims.role,
      })
        .setProtectedHeader({ alg: ALGORITHM, typ: TOKEN_TYPE, kid: signing.kid })
        .setSubject(claims.sub)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt(issuedAt)
        .setNotBefore(issuedAt)
        .setExpirationTime(expiresAt)
        .setJti(jti)
        .sign(signing.privateKey);
      return { token, jti, expiresAt: new Date(expiresAt * 1000) };
    },

    async verify(token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
        throw invalidToken();
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keyFor, {
          algorithms: [ALGORITHM],
          typ: TOKEN_TYPE,
          issuer: options.issuer,
          audience: options.audience,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          currentDate: now(),
          requiredClaims: ['sub', 'iat', 'nbf', 'exp', 'iss', 'aud', 'jti'],
        }));
      } catch (error) {
        // No cause attached: jose errors carry the token's claims, which must not reach the logs.
        throw error instanceof errors.JWTExpired ? expiredToken() : invalidToken();
      }
      return claimsOf(payload);
    },

    jwks() {
      return { keys: verification.map((key) => ({ ...key.jwk })) };
    },
  };
}
