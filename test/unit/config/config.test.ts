import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/index.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig({});
    expect(config.http).toMatchObject({
      host: '127.0.0.1',
      port: 8000,
      corsOrigins: [],
      bodyLimitBytes: 1048576,
    });
    expect(config.metrics).toEqual({ host: '127.0.0.1', port: 9464 });
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
    expect(config.tracing).toEqual({});
  });

  it('turns tracing on with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    const config = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' });
    expect(config.tracing).toEqual({ otlpEndpoint: 'http://collector:4318' });
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
    [{ RATE_LIMIT_RPM: '1.5' }, 'RATE_LIMIT_RPM'],
    [{ CORS_ORIGINS: '*' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: 'https://a.example.com/path' }, 'CORS_ORIGINS'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL'],
    [{ TLS_CERT_FILE: '/tmp/cert.pem' }, 'TLS_KEY_FILE'],
    [{ TLS_CERT_FILE: '/nonexistent/c.pem', TLS_KEY_FILE: '/nonexistent/k.pem' }, 'TLS_CERT_FILE'],
    [{ OPENAI_API_KEY: 'sk-x' }, 'OPENAI_BASE_URL'],
  ])('rejects %o naming %s', (env, setting) => {
    const problems = problemsOf(env as Record<string, string>);
    expect(problems.some((problem) => problem.split(':')[0]?.includes(setting))).toBe(true);
  });

  it('reports every bad setting at once', () => {
    expect(problemsOf({ PORT: 'x', LOG_LEVEL: 'y' })).toHaveLength(2);
  });
});
