// The processor's logger. Secrets never reach it by design (the policy returns
// token ids, not tokens, and no code logs headers); redaction is the second
// line, in case an object carrying one is ever logged.
import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';

export const REDACTED_PATHS: readonly string[] = [
  'authorization',
  'x-api-key',
  'token',
  'upstreamApiKey',
  '*.authorization',
  '*.x-api-key',
  '*.token',
  '*.upstreamApiKey',
  'headers',
  '*.headers',
];

export function createLogger(level: LevelWithSilent, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'anthropic-gateway-processor' },
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

export type { Logger };
