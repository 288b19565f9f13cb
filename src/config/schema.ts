import { z } from 'zod';
import { trustProxySetting } from './trust-proxy.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().min(1);
const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

function urlWithProtocols(protocols: string[]) {
  return optionalString.refine(
    (value) => {
      if (value === undefined) return true;
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );
}

/**
 * Every setting the server reads, with the contract's defaults. Names are the environment variable
 * names so that an error message names exactly what the operator has to fix.
 */
export const envSchema = z.object({
  PORT: port.default(8000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  METRICS_PORT: port.default(9464),
  METRICS_HOST: z.string().trim().min(1).default('127.0.0.1'),
  /** false: no metrics listener and no metric is recorded (every recorder is a no-op). */
  METRICS_ENABLED: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default('true')
    .transform((value) => value === 'true'),
  /** Traces are exported (OTLP/HTTP) only when this is set. */
  OTEL_EXPORTER_OTLP_ENDPOINT: urlWithProtocols(['http:', 'https:']),
  // The OpenTelemetry names and values, validated here rather than read by the SDK behind our back.
  OTEL_TRACES_SAMPLER: z
    .enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ])
    .default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  DATABASE_URL: urlWithProtocols(['postgres:', 'postgresql:']),
  DATABASE_POOL_SIZE: positiveInt.max(1000).default(20),
  DATABASE_CONNECTION_TIMEOUT_MS: positiveInt.default(5000),
  DATABASE_STATEMENT_TIMEOUT_MS: positiveInt.default(15000),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  REDIS_URL: urlWithProtocols(['redis:', 'rediss:']),
  REDIS_KEY_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9:._-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9:._-]')
    .default('inference-api:'),
  SESSION_TTL_DAYS: positiveInt.max(365).default(30),
  USAGE_RETENTION_DAYS: optionalString.refine(
    (value) =>
      value === undefined || (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 36500),
    { message: 'must be a whole number of days from 1 to 36500' },
  ),
  RESPONSE_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(2_592_000).default(300),
  ADMIN_API_KEY: optionalString.refine((value) => value === undefined || value.length >= 32, {
    message: 'must be at least 32 characters',
  }),
  JWT_PRIVATE_KEY_FILE: optionalString,
  JWT_ISSUER: z.string().trim().min(1).default('inference-api'),
  JWT_AUDIENCE: z.string().trim().min(1).default('inference-api'),
  OPENAI_BASE_URL: urlWithProtocols(['http:', 'https:']),
  OPENAI_API_KEY: optionalString,
  ANTHROPIC_BASE_URL: urlWithProtocols(['http:', 'https:']),
  ANTHROPIC_API_KEY: optionalString,
  MODELS_FILE: optionalString,
  RATE_LIMIT_RPM: positiveInt.default(600),
  RATE_LIMIT_TPM: positiveInt.default(200000),
  RATE_LIMIT_ENABLED: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default('true')
    .transform((value) => value === 'true'),
  RATE_LIMIT_ORG_MULTIPLIER: positiveInt.max(1000).default(10),
  RATE_LIMIT_ADDRESS_RPM: positiveInt.default(120),
  RATE_LIMIT_FALLBACK_INSTANCES: positiveInt.max(1000).default(1),
  MAX_CONCURRENT_GENERATIONS: positiveInt.max(10000).default(8),
  MAX_QUEUED_GENERATIONS: z.coerce.number().int().min(0).max(100000).default(16),
  GENERATION_QUEUE_TIMEOUT_MS: positiveInt.max(600000).default(2000),
  // A proxied stream costs a socket and a little memory, not a model context: hundreds fit.
  MAX_CONCURRENT_UPSTREAM_STREAMS: positiveInt.max(100000).default(512),
  MAX_QUEUED_UPSTREAM_STREAMS: z.coerce.number().int().min(0).max(100000).default(256),
  EVENT_LOOP_LAG_LIMIT_MS: positiveInt.default(500),
  HEAP_USED_LIMIT_RATIO: z.coerce.number().gt(0).max(1).default(0.9),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((origin) => origin.trim())
        .filter((origin) => origin !== ''),
    )
    .refine((origins) => !origins.includes('*'), {
      message: 'must list origins; "*" is not allowed',
    })
    .refine(
      (origins) =>
        origins.every((origin) => {
          try {
            const url = new URL(origin);
            return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === origin;
          } catch {
            return false;
          }
        }),
      { message: 'each entry must be an origin like https://app.example.com (no path)' },
    ),
  /** Which proxies' X-Forwarded-For to believe; unset: the socket address is the client. */
  TRUST_PROXY: trustProxySetting,
  TLS_CERT_FILE: optionalString,
  TLS_KEY_FILE: optionalString,
  /** With TLS: a plain-HTTP listener on this port that answers every request with a 308 to HTTPS. */
  HTTP_REDIRECT_PORT: optionalString
    .refine((value) => value === undefined || (/^\d+$/.test(value) && Number(value) <= 65535), {
      message: 'must be a port number from 0 to 65535',
    })
    .transform((value) => (value === undefined ? undefined : Number(value))),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  // Measured on 2 cores: one thread per generation beats two (docs/benchmarks.md).
  LOCAL_MODEL_THREADS: positiveInt.max(256).default(1),
  LOCAL_MODEL_CONTEXTS: positiveInt.max(64).default(2),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(30000),
});

export type Env = z.infer<typeof envSchema>;
