// From Envoy's access-log entry to the access record: the decoding of an
// entry (processor/accesslog/entry.ts) and the metering policy over plain
// values (processor/metering/access-record.ts): what counts as usage, for
// which answers, and that no value Envoy could have read ever becomes a
// count that is not a whole number from 0 to 2^53.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readEntry } from '../../processor/accesslog/entry.ts';
import { USAGE_KEYS, USAGE_NAMESPACE } from '../../processor/contract/usage.ts';
import { MAX_LOGGED_PATH_CHARS } from '../../processor/extproc/metadata.ts';
import {
  type LoggedRequest,
  MAX_LOGGED_REQUEST_ID_CHARS,
  MAX_LOGGED_USER_AGENT_CHARS,
  toAccessRecord,
  tokenCount,
} from '../../processor/metering/access-record.ts';
import { quotaTokens } from '../../processor/metering/usage.ts';
import type { HTTPAccessLogEntry__Output } from '../../protos/generated/envoy/data/accesslog/v3/HTTPAccessLogEntry.ts';

const FORWARDED = {
  request_id: 'rid-1',
  token_id: 'alice',
  workspace: 'research',
  route: 'messages',
  model: 'claude-sonnet-4-6',
};

function logged(overrides: Partial<LoggedRequest> = {}): LoggedRequest {
  return {
    status: 200,
    envoyRequestId: 'envoy-id',
    facts: FORWARDED,
    usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 7 },
    contentType: 'application/json',
    ttfbMs: 12,
    latencyMs: 40,
    complete: true,
    ...overrides,
  };
}

describe('toAccessRecord', () => {
  it('records a forwarded message with its usage, cache split and Envoy’s timings', () => {
    const record = toAccessRecord(
      logged({
        usage: {
          input_tokens: 10,
          output_tokens: 5,
          cache_creation_input_tokens: 30,
          cache_read_input_tokens: 7,
          ephemeral_5m_input_tokens: 20,
          ephemeral_1h_input_tokens: 10,
        },
        contentType: 'text/event-stream; charset=utf-8',
      }),
    );
    expect(record).toEqual({
      requestId: 'rid-1',
      tokenId: 'alice',
      workspace: 'research',
      model: 'claude-sonnet-4-6',
      route: 'messages',
      status: 200,
      streamed: true,
      latencyMs: 40,
      ttfbMs: 12,
      usage: {
        input_tokens: 10,
        output_tokens: 5,
        cache_creation_input_tokens: 30,
        cache_read_input_tokens: 7,
      },
      cacheCreation: { ephemeral_5m_input_tokens: 20, ephemeral_1h_input_tokens: 10 },
      complete: true,
    });
    // Charged: input, cache writes and output; cache reads are not.
    expect(record.usage && quotaTokens(record.usage)).toBe(45);
  });

  it('reads usage only from a 2xx answer', () => {
    for (const status of [0, 199, 300, 400, 429, 500, 529])
      expect(toAccessRecord(logged({ status })).usage, `status ${status}`).toBeUndefined();
    for (const status of [200, 201, 299]) expect(toAccessRecord(logged({ status })).usage).toBeDefined();
  });

  it('reads no usage for a refusal, a path the gateway does not serve, or a request the policy never saw', () => {
    expect(
      toAccessRecord(logged({ facts: { ...FORWARDED, reason: 'unknown_model' } })).usage,
    ).toBeUndefined();
    // The models listing is the gateway's own answer: logged under its route, never metered.
    const models = toAccessRecord(logged({ facts: { ...FORWARDED, route: 'models' } }));
    expect(models.usage).toBeUndefined();
    expect(models.route).toBe('models');
    const unserved = toAccessRecord(logged({ facts: { ...FORWARDED, route: 'batches' } }));
    expect(unserved.usage).toBeUndefined();
    expect(unserved.route).toBeUndefined();
    const envoys = toAccessRecord(logged({ facts: {}, status: 503 }));
    expect(envoys).toMatchObject({ requestId: 'envoy-id', status: 503 });
    expect(envoys.usage).toBeUndefined();
  });

  it('records who asked, from where, how, and the upstream’s request-id', () => {
    const record = toAccessRecord(
      logged({
        facts: { ...FORWARDED, path: '/ai-gateway/anthropic/v1/messages?beta=true' },
        startTimeMs: Date.UTC(2026, 4, 17, 9, 30, 15, 123),
        method: 'POST',
        path: '/v1/messages?beta=true',
        clientAddress: '203.0.113.7',
        userAgent: 'claude-cli/2.1.0 (external, cli)',
        responseRequestId: 'req_011CVupstream',
        fromUpstream: true,
      }),
    );
    expect(record).toMatchObject({
      requestId: 'rid-1',
      upstreamRequestId: 'req_011CVupstream',
      startTime: '2026-05-17T09:30:15.123Z',
      method: 'POST',
      // The client's path (the policy's fact), not the route's rewrite Envoy reported.
      path: '/ai-gateway/anthropic/v1/messages?beta=true',
      clientAddress: '203.0.113.7',
      userAgent: 'claude-cli/2.1.0 (external, cli)',
      tokenId: 'alice',
    });
  });

  it('takes Envoy’s path when the policy never answered, and cuts long values', () => {
    const long = `/ai-gateway/anthropic/v1/messages?${'q'.repeat(5000)}`;
    const record = toAccessRecord(
      logged({
        facts: {},
        path: long,
        userAgent: 'u'.repeat(5000),
        responseRequestId: 'r'.repeat(5000),
        fromUpstream: true,
      }),
    );
    expect(record.path).toBe(long.slice(0, MAX_LOGGED_PATH_CHARS));
    expect(record.userAgent).toHaveLength(MAX_LOGGED_USER_AGENT_CHARS);
    expect(record.upstreamRequestId).toHaveLength(MAX_LOGGED_REQUEST_ID_CHARS);
  });

  it('names no upstream request-id for a reply of the gateway’s own, which carries its own id', () => {
    // The processor's and Envoy's replies: no upstream headers came.
    expect(
      toAccessRecord(logged({ responseRequestId: 'rid-1', fromUpstream: false })).upstreamRequestId,
    ).toBeUndefined();
    // Envoy's reply after the upstream's headers (a JSON answer over the buffer limit) carries the gateway's id.
    expect(
      toAccessRecord(logged({ responseRequestId: 'rid-1', fromUpstream: true })).upstreamRequestId,
    ).toBeUndefined();
    // An upstream that sent none.
    expect(toAccessRecord(logged({ fromUpstream: true })).upstreamRequestId).toBeUndefined();
  });

  it('leaves out a start time that is none or not a date', () => {
    for (const startTimeMs of [undefined, Number.NaN, Number.POSITIVE_INFINITY, 1e20])
      expect(toAccessRecord(logged({ startTimeMs })).startTime, String(startTimeMs)).toBeUndefined();
  });

  it('keeps count_tokens apart: counted tokens, never usage', () => {
    const counted = toAccessRecord(
      logged({
        facts: { ...FORWARDED, route: 'count_tokens' },
        usage: { counted_input_tokens: 42, input_tokens: 9 },
      }),
    );
    expect(counted.countedInputTokens).toBe(42);
    expect(counted.usage).toBeUndefined();
    // And a message's line never carries a count.
    expect(
      toAccessRecord(logged({ usage: { counted_input_tokens: 42 } })).countedInputTokens,
    ).toBeUndefined();
  });

  it('takes a whole number from 0 to 2^53 as a count, and nothing else', () => {
    for (const value of [0, 1, 2 ** 53 - 1]) expect(tokenCount(value)).toBe(value);
    for (const value of [-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, -0.5, 1e300, undefined])
      expect(tokenCount(value), String(value)).toBeUndefined();
  });

  it('never records a count that is not sane, whatever Envoy read', () => {
    const anyNumber = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(Number.NaN, -0, 2 ** 53, 1e308));
    const usage = fc.dictionary(fc.constantFrom(...USAGE_KEYS), anyNumber);
    fc.assert(
      fc.property(usage, fc.constantFrom('messages', 'count_tokens'), (reported, route) => {
        const record = toAccessRecord(logged({ usage: reported, facts: { ...FORWARDED, route } }));
        const counts = [
          ...Object.values(record.usage ?? {}),
          ...Object.values(record.cacheCreation ?? {}),
          ...(record.countedInputTokens === undefined ? [] : [record.countedInputTokens]),
        ];
        for (const count of counts) expect(Number.isSafeInteger(count) && count >= 0).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('readEntry', () => {
  const entry = (overrides: Partial<NonNullable<HTTPAccessLogEntry__Output['common_properties']>> = {}) =>
    ({
      common_properties: {
        time_to_first_downstream_tx_byte: { seconds: '0', nanos: 12_345_678 },
        time_to_last_downstream_tx_byte: { seconds: '1', nanos: 500_000 },
        duration: { seconds: '1', nanos: 600_000 },
        stream_id: 'stream-1',
        start_time: { seconds: '1779010215', nanos: 123_456_789 },
        downstream_remote_address: {
          socket_address: { address: '198.51.100.4', port_value: 51234, port_specifier: 'port_value' },
          address: 'socket_address',
        },
        metadata: {
          filter_metadata: {
            anthropic_gateway: { fields: { request_id: { stringValue: 'rid-9', kind: 'stringValue' } } },
            [USAGE_NAMESPACE]: {
              fields: {
                input_tokens: { numberValue: 3, kind: 'numberValue' },
                output_tokens: { stringValue: '4', kind: 'stringValue' },
                cache_read_input_tokens: { boolValue: true, kind: 'boolValue' },
              },
            },
          },
        },
        ...overrides,
      },
      request: {
        request_id: '',
        request_method: 'POST',
        path: '/v1/messages?beta=true',
        user_agent: 'claude-cli/2.1.0',
      },
      response: {
        response_code: { value: 201 },
        response_headers: { 'content-type': 'text/event-stream', 'request-id': 'req_upstream_1' },
        upstream_header_bytes_received: '214',
      },
    }) as HTTPAccessLogEntry__Output;

  it('reads status, facts, number values of the usage namespace, content-type and timings in ms', () => {
    expect(readEntry(entry())).toEqual({
      status: 201,
      envoyRequestId: 'stream-1',
      startTimeMs: 1_779_010_215_123,
      method: 'POST',
      path: '/v1/messages?beta=true',
      clientAddress: '198.51.100.4',
      userAgent: 'claude-cli/2.1.0',
      responseRequestId: 'req_upstream_1',
      fromUpstream: true,
      facts: { request_id: 'rid-9' },
      usage: { input_tokens: 3 },
      contentType: 'text/event-stream',
      ttfbMs: 12.346,
      latencyMs: 1000.5,
      complete: true,
    });
  });

  it('is incomplete when the last byte never went out or the client went away', () => {
    const { time_to_last_downstream_tx_byte: _last, ...rest } = entry().common_properties ?? {};
    const cut = readEntry({ ...entry(), common_properties: rest });
    expect(cut).toMatchObject({ complete: false, latencyMs: 1000.6 });
    for (const flag of ['downstream_connection_termination', 'downstream_remote_reset'] as const)
      expect(readEntry(entry({ response_flags: { [flag]: true } })).complete, flag).toBe(false);
    // Envoy's own whole reply to a timeout, a refused upstream or a malformed request is complete.
    for (const flag of [
      'upstream_request_timeout',
      'upstream_connection_termination',
      'no_healthy_upstream',
      'downstream_protocol_error',
    ] as const)
      expect(readEntry(entry({ response_flags: { [flag]: true } })).complete, flag).toBe(true);
  });

  it('names no method Envoy has no name for, and no upstream for a reply without upstream headers', () => {
    const base = entry();
    const local = readEntry({
      ...base,
      request: { ...base.request, request_method: 'METHOD_UNSPECIFIED' },
      response: { ...base.response, upstream_header_bytes_received: '0' },
    } as HTTPAccessLogEntry__Output);
    expect(local).toMatchObject({ method: undefined, fromUpstream: false });
  });

  it('reads an entry with nothing in it without failing', () => {
    expect(readEntry({} as HTTPAccessLogEntry__Output)).toEqual({
      status: 0,
      envoyRequestId: undefined,
      startTimeMs: undefined,
      method: undefined,
      path: undefined,
      clientAddress: undefined,
      userAgent: undefined,
      responseRequestId: undefined,
      fromUpstream: false,
      facts: {},
      usage: {},
      contentType: undefined,
      ttfbMs: undefined,
      latencyMs: undefined,
      complete: false,
    });
  });
});
