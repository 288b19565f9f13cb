import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSigningKey } from '../security/signing-keys.js';
import { ConfigError } from './config-error.js';
import { loadModelsFile, type ModelsFile } from './models-file.js';
import { envSchema, type Env } from './schema.js';
import type { TrustProxy } from './trust-proxy.js';

export type TracesSampler = Env['OTEL_TRACES_SAMPLER'];

/**
 * The model trained by tools/model/train.py; the build copies models/ beside dist/src, so this
 * relative path holds from src/ (tests) and from dist/src/ (npm start).
 */
const BUNDLED_MODEL_PATH = fileURLToPath(
  new URL('../../models/tiny-wordnet.gguf', import.meta.url),
);

export interface Config {
  http: {
    host: string;
    port: number;
    tls?: { cert: Buffer; key: Buffer };
    /** Plain-HTTP port whose every answer is a 308 to the HTTPS listener; only with `tls`. */
    redirectPort?: number;
    corsOrigins: string[];
    /** Whose X-Forwarded-For names the client: nobody's (false) or these proxies' addresses. */
    trustProxy: TrustProxy;
    bodyLimitBytes: number;
    requestTimeoutMs: number;
    connectionTimeoutMs: number;
    keepAliveTimeoutMs: number;
  };
  /** enabled false: no `/metrics` listener, and every metric recorder is a no-op. */
  metrics: { enabled: boolean; host: string; port: number };
  /** No endpoint: tracing is off and costs nothing. `ratio` applies to the *traceidratio samplers. */
  tracing: { otlpEndpoint?: string; sampler: { kind: TracesSampler; ratio: number } };
  database:
    | {
        kind: 'postgres';
        url: string;
        poolSize: number;
        connectionTimeoutMs: number;
        statementTimeoutMs: number;
      }
    | { kind: 'pglite'; dataDir: string };
  dataDir: string;
  redis?: { url: string; keyPrefix: string };
  sessionTtlSeconds: number;
  /** Raw usage records older than this are deleted (daily totals are kept); unset keeps all. */
  usageRetentionDays?: number;
  /** 0 turns the response cache off. */
  responseCacheTtlSeconds: number;
  adminApiKey?: string;
  jwt: { privateKeyFile?: string; issuer: string; audience: string };
  upstreams: {
    openai?: { baseUrl: string; apiKey?: string };
    anthropic?: { baseUrl: string; apiKey?: string };
  };
  /** MODELS_FILE, read and validated with the rest of the settings. */
  modelsFile?: ModelsFile;
  rateLimits: {
    enabled: boolean;
    requestsPerMinute: number;
    tokensPerMinute: number;
    organizationMultiplier: number;
    addressRequestsPerMinute: number;
    fallbackInstances: number;
  };
  load: {
    maxConcurrentGenerations: number;
    maxQueuedGenerations: number;
    maxConcurrentUpstreamStreams: number;
    maxQueuedUpstreamStreams: number;
    queueTimeoutMs: number;
    eventLoopLagLimitMs: number;
    heapUsedRatioLimit: number;
  };
  /** Defaults for local models; MODELS_FILE targets may set their own. */
  localModel: { threads: number; contexts: number; bundledPath: string };
  logLevel: string;
  shutdownTimeoutMs: number;
}

export { ConfigError };

function readSettingFile(setting: string, file: string, problems: string[]): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    problems.push(`${setting}: cannot read file ${file} (${reason})`);
    return undefined;
  }
}

/** Runs a check that throws; its problems join the others instead of ending the report early. */
function checkSetting<T>(setting: string, problems: string[], check: () => T): T | undefined {
  try {
    return check();
  } catch (error) {
    if (error instanceof ConfigError) problems.push(...error.problems);
    else problems.push(`${setting}: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  const problems: string[] = [];

  let tls: Config['http']['tls'];
  if ((e.TLS_CERT_FILE === undefined) !== (e.TLS_KEY_FILE === undefined)) {
    problems.push('TLS_CERT_FILE, TLS_KEY_FILE: set both to serve HTTPS, or neither');
  } else if (e.TLS_CERT_FILE !== undefined && e.TLS_KEY_FILE !== undefined) {
    const cert = readSettingFile('TLS_CERT_FILE', e.TLS_CERT_FILE, problems);
    const key = readSettingFile('TLS_KEY_FILE', e.TLS_KEY_FILE, problems);
    if (cert && key) tls = { cert, key };
  }
  if (e.OPENAI_API_KEY !== undefined && e.OPENAI_BASE_URL === undefined) {
    problems.push('OPENAI_BASE_URL: required when OPENAI_API_KEY is set');
  }
  if (e.ANTHROPIC_API_KEY !== undefined && e.ANTHROPIC_BASE_URL === undefined) {
    problems.push('ANTHROPIC_BASE_URL: required when ANTHROPIC_API_KEY is set');
  }
  // Read here, not when the server builds its token issuer: a bad file is then reported with
  // every other problem, naming its setting, before the database is opened.
  const keyFile = e.JWT_PRIVATE_KEY_FILE;
  if (keyFile !== undefined) {
    const pem = readSettingFile('JWT_PRIVATE_KEY_FILE', keyFile, problems);
    if (pem) checkSetting('JWT_PRIVATE_KEY_FILE', problems, () => parseSigningKey(pem, keyFile));
  }
  const tableFile = e.MODELS_FILE;
  const modelsFile =
    tableFile === undefined
      ? undefined
      : checkSetting('MODELS_FILE', problems, () => loadModelsFile(tableFile, env));
  if (e.HTTP_REDIRECT_PORT !== undefined) {
    if (e.TLS_CERT_FILE === undefined) {
      problems.push(
        'HTTP_REDIRECT_PORT: needs TLS_CERT_FILE and TLS_KEY_FILE (nothing to redirect to)',
      );
    }
    // Port 0 is a fresh ephemeral port each time, so it cannot collide.
    const taken = [
      ['PORT', e.PORT],
      ...(e.METRICS_ENABLED ? [['METRICS_PORT', e.METRICS_PORT] as const] : []),
    ] as const;
    for (const [setting, value] of taken) {
      if (value !== 0 && value === e.HTTP_REDIRECT_PORT) {
        problems.push(`HTTP_REDIRECT_PORT: must differ from ${setting} (${value})`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const dataDir = path.resolve(e.DATA_DIR);
  return {
    http: {
      host: e.HOST,
      port: e.PORT,
      ...(tls ? { tls } : {}),
      ...(e.HTTP_REDIRECT_PORT === undefined ? {} : { redirectPort: e.HTTP_REDIRECT_PORT }),
      corsOrigins: e.CORS_ORIGINS,
      trustProxy: e.TRUST_PROXY,
      bodyLimitBytes: 1024 * 1024,
      requestTimeoutMs: 30_000,
      connectionTimeoutMs: 120_000,
      keepAliveTimeoutMs: 72_000,
    },
    metrics: { enabled: e.METRICS_ENABLED, host: e.METRICS_HOST, port: e.METRICS_PORT },
    tracing: {
      ...(e.OTEL_EXPORTER_OTLP_ENDPOINT ? { otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT } : {}),
      sampler: { kind: e.OTEL_TRACES_SAMPLER, ratio: e.OTEL_TRACES_SAMPLER_ARG },
    },
    database: e.DATABASE_URL
      ? {
          kind: 'postgres',
          url: e.DATABASE_URL,
          poolSize: e.DATABASE_POOL_SIZE,
          connectionTimeoutMs: e.DATABASE_CONNECTION_TIMEOUT_MS,
          statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
        }
      : { kind: 'pglite', dataDir: path.join(dataDir, 'pglite') },
    dataDir,
    ...(e.REDIS_URL ? { redis: { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX } } : {}),
    sessionTtlSeconds: e.SESSION_TTL_DAYS * 24 * 3600,
    responseCacheTtlSeconds: e.RESPONSE_CACHE_TTL_SECONDS,
    ...(e.USAGE_RETENTION_DAYS === undefined
      ? {}
      : { usageRetentionDays: Number(e.USAGE_RETENTION_DAYS) }),
    ...(e.ADMIN_API_KEY ? { adminApiKey: e.ADMIN_API_KEY } : {}),
    jwt: {
      ...(e.JWT_PRIVATE_KEY_FILE ? { privateKeyFile: e.JWT_PRIVATE_KEY_FILE } : {}),
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
    },
    upstreams: {
      ...(e.OPENAI_BASE_URL
        ? {
            openai: {
              baseUrl: e.OPENAI_BASE_URL,
              ...(e.OPENAI_API_KEY ? { apiKey: e.OPENAI_API_KEY } : {}),
            },
          }
        : {}),
      ...(e.ANTHROPIC_BASE_URL
        ? {
            anthropic: {
              baseUrl: e.ANTHROPIC_BASE_URL,
              ...(e.ANTHROPIC_API_KEY ? { apiKey: e.ANTHROPIC_API_KEY } : {}),
            },
          }
        : {}),
    },
    ...(modelsFile ? { modelsFile } : {}),
    rateLimits: {
      enabled: e.RATE_LIMIT_ENABLED,
      requestsPerMinute: e.RATE_LIMIT_RPM,
      tokensPerMinute: e.RATE_LIMIT_TPM,
      organizationMultiplier: e.RATE_LIMIT_ORG_MULTIPLIER,
      addressRequestsPerMinute: e.RATE_LIMIT_ADDRESS_RPM,
      fallbackInstances: e.RATE_LIMIT_FALLBACK_INSTANCES,
    },
    load: {
      maxConcurrentGenerations: e.MAX_CONCURRENT_GENERATIONS,
      maxQueuedGenerations: e.MAX_QUEUED_GENERATIONS,
      maxConcurrentUpstreamStreams: e.MAX_CONCURRENT_UPSTREAM_STREAMS,
      maxQueuedUpstreamStreams: e.MAX_QUEUED_UPSTREAM_STREAMS,
      queueTimeoutMs: e.GENERATION_QUEUE_TIMEOUT_MS,
      eventLoopLagLimitMs: e.EVENT_LOOP_LAG_LIMIT_MS,
      heapUsedRatioLimit: e.HEAP_USED_LIMIT_RATIO,
    },
    localModel: {
      threads: e.LOCAL_MODEL_THREADS,
      contexts: e.LOCAL_MODEL_CONTEXTS,
      bundledPath: BUNDLED_MODEL_PATH,
    },
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  };
}
