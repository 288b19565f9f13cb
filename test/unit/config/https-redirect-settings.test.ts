import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { problemsOf } from './problems.js';

const dir = mkdtempSync(path.join(tmpdir(), 'redirect-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// loadConfig only reads these; the TLS listener is what parses them.
const tls = {
  TLS_CERT_FILE: path.join(dir, 'cert.pem'),
  TLS_KEY_FILE: path.join(dir, 'key.pem'),
};
writeFileSync(tls.TLS_CERT_FILE, 'cert');
writeFileSync(tls.TLS_KEY_FILE, 'key');

describe('HTTP_REDIRECT_PORT', () => {
  it('is off unless set', () => {
    expect(loadConfig(tls).http.redirectPort).toBeUndefined();
    expect(loadConfig({ ...tls, HTTP_REDIRECT_PORT: '' }).http.redirectPort).toBeUndefined();
  });

  it('opens the redirect listener on that port when TLS is on', () => {
    expect(loadConfig({ ...tls, HTTP_REDIRECT_PORT: '8080' }).http.redirectPort).toBe(8080);
  });

  it('needs TLS, since there is nothing to redirect to without it', () => {
    expect(problemsOf({ HTTP_REDIRECT_PORT: '8080' })).toEqual([
      'HTTP_REDIRECT_PORT: needs TLS_CERT_FILE and TLS_KEY_FILE (nothing to redirect to)',
    ]);
  });

  it('must be a port, and not the API or metrics port', () => {
    expect(problemsOf({ ...tls, HTTP_REDIRECT_PORT: 'http' })).toEqual([
      'HTTP_REDIRECT_PORT: must be a port number from 0 to 65535',
    ]);
    expect(problemsOf({ ...tls, HTTP_REDIRECT_PORT: '70000' })).toHaveLength(1);
    expect(problemsOf({ ...tls, PORT: '8443', HTTP_REDIRECT_PORT: '8443' })).toEqual([
      'HTTP_REDIRECT_PORT: must differ from PORT (8443)',
    ]);
    expect(problemsOf({ ...tls, HTTP_REDIRECT_PORT: '9464' })).toEqual([
      'HTTP_REDIRECT_PORT: must differ from METRICS_PORT (9464)',
    ]);
    expect(
      loadConfig({ ...tls, METRICS_ENABLED: 'false', HTTP_REDIRECT_PORT: '9464' }).http
        .redirectPort,
    ).toBe(9464);
  });
});
