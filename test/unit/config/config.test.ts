import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { problemsOf } from './problems.js';

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig({});
    expect(config.http).toMatchObject({
      host: '127.0.0.1',
      port: 8000,
      corsOrigins: [],
      bodyLimitBytes: 1048576,
    });
    expect(config.metrics).toEqual({ enabled: true, host: '127.0.0.1', port: 9464 });
    expect(config.database).toEqual({ kind: 'pglite', dataDir: path.resolve('data', 'pglite') });
    expect(config.rateLimits).toMatchObject({
      enabled: true,
      requestsPerMinute: 600,
      tokensPerMinute: 200000,
    });
    expect(config.jwt).toEqual({ issuer: 'inference-api', audience: 'inference-api' });
    expect(config.logLevel).toBe('info');
    expect(config.adminApiKey).toBeUndefined();
    expect(config.redis).toBeUndefined();
    expect(config.sessionTtlSeconds).toBe(30 * 24 * 3600);
    expect(config.tracing).toEqual({ sampler: { kind: 'parentbased_always_on', ratio: 1 } });
  });

  it('turns tracing on with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    const config = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' });
    expect(config.tracing).toEqual({
      otlpEndpoint: 'http://collector:4318',
      sampler: { kind: 'parentbased_always_on', ratio: 1 },
    });
  });

  it('reads the trace sampler from the standard OpenTelemetry variables', () => {
    const config = loadConfig({
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.05',
    });
    expect(config.tracing.sampler).toEqual({ kind: 'parentbased_traceidratio', ratio: 0.05 });
  });

  it('turns metrics off with METRICS_ENABLED=false only', () => {
    expect(loadConfig({ METRICS_ENABLED: 'false' }).metrics.enabled).toBe(false);
    expect(loadConfig({ METRICS_ENABLED: 'true' }).metrics.enabled).toBe(true);
    // The listener settings are still validated, so turning metrics back on needs no other edit.
    expect(loadConfig({ METRICS_ENABLED: 'false', METRICS_PORT: '9100' }).metrics).toEqual({
      enabled: false,
      host: '127.0.0.1',
      port: 9100,
    });
  });

  it('limits proxied upstream streams apart from local generations, by hundreds', () => {
    expect(loadConfig({}).load).toMatchObject({
      maxConcurrentGenerations: 8,
      maxQueuedGenerations: 16,
      maxConcurrentUpstreamStreams: 512,
      maxQueuedUpstreamStreams: 256,
    });
    expect(
      loadConfig({ MAX_CONCURRENT_UPSTREAM_STREAMS: '2000', MAX_QUEUED_UPSTREAM_STREAMS: '0' })
        .load,
    ).toMatchObject({ maxConcurrentUpstreamStreams: 2000, maxQueuedUpstreamStreams: 0 });
    expect(problemsOf({ MAX_CONCURRENT_UPSTREAM_STREAMS: '0' })[0]).toMatch(
      /^MAX_CONCURRENT_UPSTREAM_STREAMS/,
    );
  });

  it('sets the local model defaults from LOCAL_MODEL_THREADS and LOCAL_MODEL_CONTEXTS', () => {
    const defaults = loadConfig({}).localModel;
    expect(defaults).toMatchObject({ threads: 1, contexts: 2 });
    // The bundled model, found beside the source (or the build), wherever the process starts.
    expect(path.isAbsolute(defaults.bundledPath)).toBe(true);
    expect(defaults.bundledPath.endsWith(path.join('models', 'tiny-wordnet.gguf'))).toBe(true);
    expect(
      loadConfig({ LOCAL_MODEL_THREADS: '4', LOCAL_MODEL_CONTEXTS: '8' }).localModel,
    ).toMatchObject({ threads: 4, contexts: 8 });
  });

  it('uses PostgreSQL with the pool size when DATABASE_URL is set', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://u@db:5432/app',
      DATABASE_POOL_SIZE: '7',
    });
    expect(config.database).toMatchObject({
      kind: 'postgres',
      url: 'postgres://u@db:5432/app',
      poolSize: 7,
    });
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', ADMIN_API_KEY: '' }).database.kind).toBe('pglite');
  });

  it('trusts no proxy unless TRUST_PROXY lists them', () => {
    expect(loadConfig({}).http.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'false' }).http.trustProxy).toBe(false);
    expect(
      loadConfig({ TRUST_PROXY: ' 10.0.0.0/8, 192.0.2.7,fd00::/8 , loopback' }).http.trustProxy,
    ).toEqual(['10.0.0.0/8', '192.0.2.7', 'fd00::/8', 'loopback']);
  });

  it('parses the CORS allow-list', () => {
    const config = loadConfig({ CORS_ORIGINS: 'https://a.example.com, http://localhost:3000' });
    expect(config.http.corsOrigins).toEqual(['https://a.example.com', 'http://localhost:3000']);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ METRICS_PORT: '-1' }, 'METRICS_PORT'],
    [{ DATABASE_URL: 'mysql://localhost/db' }, 'DATABASE_URL'],
    [{ DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE'],
    [{ REDIS_URL: 'http://localhost' }, 'REDIS_URL'],
    [{ ADMIN_API_KEY: 'too-short' }, 'ADMIN_API_KEY'],
    [{ OPENAI_BASE_URL: 'not a url' }, 'OPENAI_BASE_URL'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
    [{ METRICS_ENABLED: 'no' }, 'METRICS_ENABLED'],
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER'],
    [{ OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG'],
    [{ METRICS_ENABLED: '0' }, 'METRICS_ENABLED'],
    [{ RATE_LIMIT_RPM: '1.5' }, 'RATE_LIMIT_RPM'],
    [{ CORS_ORIGINS: '*' }, 'CORS_ORIGINS'],
    [{ TRUST_PROXY: 'true' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '1' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'fd00::/129' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.1,' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'proxy.internal' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/8/1' }, 'TRUST_PROXY'],
    [{ CORS_ORIGINS: 'https://a.example.com/path' }, 'CORS_ORIGINS'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL'],
    [{ TLS_CERT_FILE: '/tmp/cert.pem' }, 'TLS_KEY_FILE'],
    [{ TLS_CERT_FILE: '/nonexistent/c.pem', TLS_KEY_FILE: '/nonexistent/k.pem' }, 'TLS_CERT_FILE'],
    [{ OPENAI_API_KEY: 'sk-x' }, 'OPENAI_BASE_URL'],
    [{ LOCAL_MODEL_THREADS: '0' }, 'LOCAL_MODEL_THREADS'],
    [{ LOCAL_MODEL_THREADS: '257' }, 'LOCAL_MODEL_THREADS'],
    [{ LOCAL_MODEL_THREADS: 'many' }, 'LOCAL_MODEL_THREADS'],
    [{ LOCAL_MODEL_CONTEXTS: '0' }, 'LOCAL_MODEL_CONTEXTS'],
    [{ LOCAL_MODEL_CONTEXTS: '65' }, 'LOCAL_MODEL_CONTEXTS'],
    [{ LOCAL_MODEL_CONTEXTS: '1.5' }, 'LOCAL_MODEL_CONTEXTS'],
  ])('rejects %o naming %s', (env, setting) => {
    const problems = problemsOf(env as Record<string, string>);
    expect(problems.some((problem) => problem.split(':')[0]?.includes(setting))).toBe(true);
  });

  it('reports every bad setting at once', () => {
    expect(problemsOf({ PORT: 'x', LOG_LEVEL: 'y' })).toHaveLength(2);
  });
});
