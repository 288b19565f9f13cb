/** API key secret handling, injected so the domain stays free of a particular format. */
export interface ApiKeySecrets {
  generate(): { secret: string; prefix: string };
  /** The lookup prefix of a presented secret (parsed, or derived for free-form secrets). */
  prefixOf(secret: string): string;
  hash(secret: string): string;
  /** Constant-time comparison of a stored hash with a presented secret. */
  matches(hash: string, secret: string): boolean;
}
