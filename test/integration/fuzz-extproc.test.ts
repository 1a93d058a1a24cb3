// Fuzzing the processor over gRPC: generated hostile requests (test/support/
// fuzz.ts) sent as Envoy sends them, one stream each. The processor must never
// fail a stream, must answer exactly what the policy functions decide (so the
// policy fuzz's guarantees hold on the wire), must approve for Envoy only a
// body it let through, and must log no secret. FUZZ_RUNS raises the count.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideOnBody, decideOnHeaders } from '../../processor/policy/request-policy.ts';
import {
  createExtProcClient,
  type ExtProcClient,
  immediateStatus,
  requestBody,
  requestHeaders,
  setHeaderEntries,
} from '../support/extproc-client.ts';
import { expectBodyContinues, expectNoApproval } from '../support/extproc-expect.ts';
import { buildTestConfig, startTestProcessor, type TestProcessor } from '../support/extproc-server.ts';
import {
  FUZZ_SCALE,
  FUZZ_SCOPED_TOKEN,
  FUZZ_SCOPED_UPSTREAM_KEY,
  FUZZ_TOKEN,
  FUZZ_UPSTREAM_KEY,
  fuzzConfig,
  requestArb,
  runs,
} from '../support/fuzz.ts';

const { raw, env } = fuzzConfig();
const config = buildTestConfig(raw, env);
const LIMITS = { maxRequestBodyBytes: config.settings.limits.max_request_body_bytes };
let processor: TestProcessor;
let client: ExtProcClient;

beforeAll(async () => {
  processor = await startTestProcessor({ config, logLevel: 'debug' });
  client = createExtProcClient(processor.address);
});
afterAll(async () => {
  client?.close();
  await processor?.stop();
});

const REQUEST_ID = '0f0e0d0c-0000-4000-8000-000000000000';

describe(`fuzz: the processor over gRPC on ${runs(1_500)} generated requests`, () => {
  it(
    'answers every stream exactly as the policy decides, and never fails one',
    async () => {
      let approved = 0;
      await fc.assert(
        fc.asyncProperty(requestArb, async (request) => {
          const endOfStream = request.body.length === 0;
          const stream = client.openStream();
          const headersMessage = requestHeaders({
            method: request.method,
            path: request.path,
            requestId: REQUEST_ID,
            headers: request.headers,
            endOfStream,
          });
          const first = await stream.exchange(headersMessage);
          // What the policy decides on the same headers, as the processor reads them.
          const plain = (headersMessage.request_headers?.headers?.headers ?? []).map(
            (h): readonly [string, string] => [
              h.key ?? '',
              Buffer.from(h.raw_value ?? '').toString('latin1'),
            ],
          );
          const expected = decideOnHeaders(config.policy, plain, endOfStream, LIMITS);
          if (expected.action === 'reject') {
            expect(immediateStatus(first)).toBe(expected.error.status);
            expect(first.immediate_response?.details).toBe(`anthropic_gateway_${expected.error.reason}`);
            expectNoApproval(first);
          } else if (expected.action === 'respond') {
            // The gateway's own answer (models listing, HEAD probe).
            expect(immediateStatus(first)).toBe(expected.reply.status);
            expectNoApproval(first);
          } else {
            expect(first.response).toBe('request_headers');
            const mutation = first.request_headers?.response?.header_mutation;
            expect([...(mutation?.remove_headers ?? [])].sort()).toEqual([...expected.removeHeaders].sort());
            const key = expected.grant.id === 'fuzz' ? FUZZ_UPSTREAM_KEY : FUZZ_SCOPED_UPSTREAM_KEY;
            expect(setHeaderEntries(mutation?.set_headers)).toEqual([
              ['x-api-key', key, 'OVERWRITE_IF_EXISTS_OR_ADD'],
            ]);
            expectNoApproval(first);

            const second = await stream.exchange(requestBody(request.body));
            const error = decideOnBody(config.policy, expected, request.body);
            if (error === undefined) {
              approved += 1;
              expectBodyContinues(second);
            } else {
              expect(immediateStatus(second)).toBe(error.status);
              expect(second.immediate_response?.details).toBe(`anthropic_gateway_${error.reason}`);
              expectNoApproval(second);
            }
          }
          expect((await stream.close()).code).toBe(0);
        }),
        { numRuns: runs(1_500) },
      );
      expect(approved).toBeGreaterThan(runs(1_500) / 10);

      // Rejections were logged (at debug), and no line holds a secret.
      const lines = processor.logLines();
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        for (const secret of [FUZZ_TOKEN, FUZZ_SCOPED_TOKEN, FUZZ_UPSTREAM_KEY, FUZZ_SCOPED_UPSTREAM_KEY]) {
          expect(line).not.toContain(secret);
        }
      }
    },
    60_000 * FUZZ_SCALE,
  );
});
