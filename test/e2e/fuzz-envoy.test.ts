// Fuzzing the whole gateway: generated hostile requests (test/support/fuzz.ts),
// header names in random case, written byte for byte to the real Envoy in
// front of the real processor. Every answer is the fake upstream's or an
// Anthropic-shaped error with one request-id; whatever reached the upstream
// went to an allowlisted path, with only allowlisted headers, the workspace's
// key and a body whose model the token may use. FUZZ_RUNS raises the count.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORWARDED_HEADERS } from '../../processor/policy/upstream-headers.ts';
import { sha256, UPSTREAM_REQUEST_ID } from '../support/fake-upstream.ts';
import {
  bodyMayGoUpstream,
  FUZZ_SCALE,
  FUZZ_SCOPED_TOKEN,
  FUZZ_SCOPED_UPSTREAM_KEY,
  FUZZ_TOKEN,
  FUZZ_UPSTREAM_KEY,
  fuzzConfig,
  GRANTS,
  type Header,
  isAnsweredByGateway,
  requestArb,
  runs,
  STATUS_OF_TYPE,
  specifiedToken,
  UPSTREAM_ALLOWED,
} from '../support/fuzz.ts';
import { type GatewayStack, startStack } from '../support/gateway-stack.ts';
import { buildRequest, rawRequest } from '../support/raw-http.ts';

let stack: GatewayStack;
let port: number;

beforeAll(async () => {
  const { raw, env } = fuzzConfig();
  stack = await startStack({ config: raw, env });
  port = Number(new URL(stack.origin).port);
});
afterAll(async () => {
  await stack?.stop();
});

const casing = fc.constantFrom(
  (name: string) => name,
  (name: string) => name.toUpperCase(),
  (name: string) => name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase()),
);

/** What may reach the upstream: transfer-encoding too, for a body Envoy re-frames. */
const ALLOWED_AT_UPSTREAM = new Set([...UPSTREAM_ALLOWED, 'transfer-encoding']);
const ALLOWED_PATHS = new Set(['/v1/messages', '/v1/messages/count_tokens']);

describe(`fuzz: the gateway through Envoy on ${runs(1_000)} generated requests`, () => {
  it(
    'answers each one from the upstream or with an Anthropic-shaped error, and lets nothing unchecked through',
    async () => {
      let forwarded = 0;
      await fc.assert(
        fc.asyncProperty(requestArb, casing, async (request, caseName) => {
          stack.upstream.reset();
          // Framing headers are left to the dedicated tests (hostile-headers, hostile-bodies): a random
          // content-length or transfer-encoding makes Envoy wait for bytes that never come.
          const headers: Header[] = request.headers
            .filter(([name]) => name !== 'content-length' && name !== 'transfer-encoding')
            .map(([name, value]) => [caseName(name), value]);
          const response = await rawRequest(
            port,
            buildRequest({ method: request.method, target: request.path, headers, body: request.body }),
            { timeoutMs: 5_000 },
          );
          expect(response, 'Envoy answered').toBeDefined();
          if (response === undefined) return;

          if (stack.upstream.received.length > 0) {
            // The fake upstream's answer, for the one request that reached it.
            forwarded += 1;
            expect(response.status).toBe(200);
            expect(response.header('request-id')).toBe(UPSTREAM_REQUEST_ID);
            expect(stack.upstream.received).toHaveLength(1);
          } else if (response.status < 400) {
            // The gateway's own answer: the models listing, a HEAD probe.
            expect(isAnsweredByGateway(request.method, request.path)).toBe(true);
            expect(stack.upstream.arrived).toEqual([]);
          } else {
            expect(stack.upstream.arrived).toEqual([]);
            expect(response.headers.filter(([name]) => name === 'request-id')).toHaveLength(1);
            expect(response.header('request-id')).not.toBe(UPSTREAM_REQUEST_ID);
            // A HEAD answer has no body; any other error is Anthropic-shaped.
            if (request.method !== 'HEAD') {
              const body = JSON.parse(response.body.toString('utf8')) as {
                type: string;
                error: { type: string };
              };
              expect(body).toEqual({
                type: 'error',
                error: { type: expect.any(String), message: expect.any(String) },
              });
              expect(Object.keys(STATUS_OF_TYPE)).toContain(body.error.type);
            }
          }

          for (const received of stack.upstream.received) {
            expect(ALLOWED_PATHS.has(received.url.split('?')[0] ?? '')).toBe(true);
            for (const [name] of received.headers) expect(ALLOWED_AT_UPSTREAM.has(name), name).toBe(true);
            // The token the client presented, by the documented rule, decided the key and the models.
            const token = specifiedToken(
              request.headers.map(([name, value]) => [name.toLowerCase(), value.trim()]),
            );
            expect(token === undefined ? undefined : GRANTS.get(token)).toBeDefined();
            const key = token === FUZZ_SCOPED_TOKEN ? FUZZ_SCOPED_UPSTREAM_KEY : FUZZ_UPSTREAM_KEY;
            expect(received.headers.filter(([name]) => name === 'x-api-key')).toEqual([['x-api-key', key]]);
            expect(bodyMayGoUpstream(token ?? '', received.body)).toBe(true);
            expect(received.sha256).toBe(sha256(request.body));
            // No token crossed in a header the gateway sets or keeps for itself. (The five
            // forwarded headers go as the client wrote them, whatever it put there.)
            const own = JSON.stringify(received.headers.filter(([name]) => !FORWARDED_HEADERS.has(name)));
            expect(own).not.toContain(FUZZ_TOKEN);
            expect(own).not.toContain(FUZZ_SCOPED_TOKEN);
          }
        }),
        { numRuns: runs(1_000) },
      );
      expect(forwarded).toBeGreaterThan(runs(1_000) / 10);
    },
    120_000 * FUZZ_SCALE,
  );
});
