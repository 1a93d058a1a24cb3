// Fuzzing the policy: many thousands of generated hostile requests (headers and
// body, test/support/fuzz.ts) through decideOnHeaders and decideOnBody, checked
// against the documented rules written independently of the code. FUZZ_RUNS
// raises the count (docs/security.md records the long run and its result).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../processor/config/load.ts';
import { renderErrorBody } from '../../processor/policy/errors.ts';
import type { HeaderList } from '../../processor/policy/headers.ts';
import { decideOnBody, decideOnHeaders, type Policy } from '../../processor/policy/request-policy.ts';
import {
  bodyMayGoUpstream,
  FUZZ_SCALE,
  type FuzzRequest,
  fuzzConfig,
  GRANTS,
  isAnsweredByGateway,
  isCompressed,
  isRoute,
  requestArb,
  runs,
  STATUS_OF_TYPE,
  specifiedToken,
  UPSTREAM_ALLOWED,
} from '../support/fuzz.ts';

const { raw, env } = fuzzConfig();
const loaded = buildConfig(raw, env);
if (!loaded.ok) throw new Error(loaded.problems.join('; '));
const policy: Policy = loaded.config.policy;
const LIMITS = { maxRequestBodyBytes: loaded.config.settings.limits.max_request_body_bytes };

function headerList(request: FuzzRequest): HeaderList {
  return [
    [':authority', 'gateway.test'],
    [':path', request.path],
    [':method', request.method],
    [':scheme', 'http'],
    ...request.headers,
    ['x-forwarded-proto', 'http'],
    ['x-request-id', '7b1c2d4e-0000-4000-8000-000000000000'],
  ];
}

/** Every refusal is Anthropic-shaped, with a status that matches its type. */
function expectWellFormed(error: { status: number; type: string; message: string; reason: string }) {
  expect(STATUS_OF_TYPE[error.type]).toContain(error.status);
  expect(error.message.length).toBeGreaterThan(0);
  expect(error.reason.length).toBeGreaterThan(0);
  expect(JSON.parse(renderErrorBody({ ...error, type: error.type as never }).toString())).toEqual({
    type: 'error',
    error: { type: error.type, message: error.message },
  });
}

describe(`fuzz: the policy on ${runs(20_000)} generated requests`, () => {
  it(
    'forwards only what the documented rules allow, with only allowlisted headers and the right key',
    () => {
      let forwarded = 0;
      let bodiesForwarded = 0;
      fc.assert(
        fc.property(requestArb, fc.boolean(), (request, headersEndStream) => {
          const endOfStream = headersEndStream && request.body.length === 0;
          const headers = headerList(request);
          const decision = decideOnHeaders(policy, headers, endOfStream, LIMITS);
          const token = specifiedToken(request.headers);
          const grant = token === undefined ? undefined : GRANTS.get(token);

          if (decision.action === 'reject') {
            expectWellFormed(decision.error);
            // The most specific rule decides: a route first, then the credential.
            // (The models listing needs a token too, and names an unknown model with 404.)
            if (!isRoute(request.method, request.path)) {
              const possible = isAnsweredByGateway(request.method, request.path)
                ? [401, 404, 405]
                : [404, 405];
              expect(possible).toContain(decision.error.status);
            } else if (grant === undefined) expect(decision.error.status).toBe(401);
            return;
          }

          if (decision.action === 'respond') {
            // Answered by the gateway itself (models listing, HEAD probe): nothing goes upstream.
            expect(isAnsweredByGateway(request.method, request.path)).toBe(true);
            expect(isRoute(request.method, request.path)).toBe(false);
            return;
          }

          // Forwarded: the route, the credential, the encoding and a body to check all held.
          forwarded += 1;
          expect(isRoute(request.method, request.path)).toBe(true);
          expect(grant).toBeDefined();
          expect(decision.grant.id).toBe(grant?.id);
          expect(decision.workspace.upstreamApiKey).toBe(grant?.key);
          expect(isCompressed(request.headers)).toBe(false);
          expect(endOfStream).toBe(false);
          // A declared length is one decimal number, within the limit.
          const lengths = request.headers
            .filter(([name]) => name === 'content-length')
            .map(([, v]) => v.trim());
          expect(lengths.length).toBeLessThanOrEqual(1);
          for (const length of lengths) {
            expect(length).toMatch(/^[0-9]+$/);
            expect(BigInt(length) <= BigInt(LIMITS.maxRequestBodyBytes)).toBe(true);
          }
          // After the processor's removals, only allowlisted names remain; the client's credentials are gone.
          const removed = new Set(decision.removeHeaders);
          for (const [name] of headers) {
            if (name.startsWith(':') || removed.has(name)) continue;
            expect(UPSTREAM_ALLOWED.has(name), name).toBe(true);
          }
          if (request.headers.some(([name]) => name === 'authorization'))
            expect(removed.has('authorization')).toBe(true);

          const error = decideOnBody(policy, decision, request.body);
          const allowed = bodyMayGoUpstream(token ?? '', request.body);
          if (error === undefined) {
            // What goes upstream: JSON.parse reads an Anthropic model of the catalog, within scope.
            bodiesForwarded += 1;
            expect(allowed).toBe(true);
          } else {
            expectWellFormed(error);
            const known = request.generated.known;
            // A body whose one model the generator knows is refused only if it may not go.
            if (known?.models.length === 1) expect(allowed).toBe(false);
          }
          // Two top-level models are always refused, whatever they are.
          if (request.generated.known !== undefined && request.generated.known.models.length > 1) {
            expect(error).toBeDefined();
          }
        }),
        { numRuns: runs(20_000) },
      );
      // Not vacuous: a good share of the generated requests got through each check.
      expect(forwarded).toBeGreaterThan(runs(20_000) / 20);
      expect(bodiesForwarded).toBeGreaterThan(runs(20_000) / 10);
    },
    60_000 * FUZZ_SCALE,
  );
});
