import pino, { type Logger } from 'pino';

/**
 * Secrets and user content must never reach a log line. Our own lines never include headers or
 * bodies; these paths are the second line of defence for anything logged by mistake.
 */
export const REDACT_PATHS = [
  'authorization',
  'password',
  'secret',
  'api_key',
  'apiKey',
  'prompt',
  'messages',
  'refresh_token',
  'access_token',
  '*.authorization',
  '*.password',
  '*.secret',
  '*.api_key',
  '*.apiKey',
  '*.prompt',
  '*.messages',
  '*.refresh_token',
  '*.access_token',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'inference-api' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
