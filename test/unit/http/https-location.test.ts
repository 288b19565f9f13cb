import { describe, expect, it } from 'vitest';
import { httpsLocation } from '../../../src/http/https-redirect.js';

describe('httpsLocation', () => {
  it('keeps the host, path and query, and swaps a direct port for the HTTPS one', () => {
    expect(httpsLocation('127.0.0.1:8080', '/v1/models?limit=2', 8443)).toBe(
      'https://127.0.0.1:8443/v1/models?limit=2',
    );
    expect(httpsLocation('[::1]:8080', '/healthz', 8443)).toBe('https://[::1]:8443/healthz');
  });

  it('sends a Host without a port to the standard HTTPS port', () => {
    expect(httpsLocation('api.example.com', '/docs', 8443)).toBe('https://api.example.com/docs');
    expect(httpsLocation('[2001:db8::1]', '/', 8443)).toBe('https://[2001:db8::1]/');
  });

  it('leaves out :443', () => {
    expect(httpsLocation('api.example.com:80', '/x', 443)).toBe('https://api.example.com/x');
  });

  it('keeps only the path of an absolute-form request target', () => {
    expect(httpsLocation('api.example.com', 'http://elsewhere.example/x', 443)).toBe(
      'https://api.example.com/',
    );
  });

  it.each([undefined, '', 'evil.example/path', 'user@evil.example', 'a.example:80:80', 'a b'])(
    'refuses the Host %j',
    (host) => {
      expect(httpsLocation(host, '/', 8443)).toBeUndefined();
    },
  );
});
