// The zero-delay mock upstream: a second, tiny Envoy that reads the whole
// request body (the buffer filter) and answers a fixed Anthropic message
// (direct_response). Envoy rather than a Node server, so that the mock is not
// the bottleneck: it answers from C++ on one worker thread, costs a fraction of
// what any system under test costs per request, and every system (and the
// direct baseline) talks to the same one.
import { join } from 'node:path';
import { type RunningEnvoy, startEnvoy } from '../../envoy/run.ts';
import { spawnServer } from './spawned.ts';

/** The answer of a real non-streaming call, trimmed to its shape. */
export const MOCK_MESSAGE = JSON.stringify({
  id: 'msg_bench_0001',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-6',
  content: [{ type: 'text', text: 'Hello from the benchmark mock.' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 1500, output_tokens: 9 },
});

/** Large enough for the 32 MB body; the mock never keeps what it reads. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

const typed = (type: string, config: Record<string, unknown>) => ({
  '@type': `type.googleapis.com/${type}`,
  ...config,
});

export function mockBootstrap(): object {
  return {
    static_resources: {
      listeners: [
        {
          // envoy/run.ts finds the port of the listener named "gateway".
          name: 'gateway',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          per_connection_buffer_limit_bytes: MAX_BODY_BYTES,
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: typed(
                    'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    {
                      stat_prefix: 'mock',
                      codec_type: 'AUTO',
                      route_config: {
                        virtual_hosts: [
                          {
                            name: 'mock',
                            domains: ['*'],
                            routes: [
                              {
                                match: { prefix: '/' },
                                direct_response: { status: 200, body: { inline_string: MOCK_MESSAGE } },
                                response_headers_to_add: [
                                  { header: { key: 'content-type', value: 'application/json' } },
                                  { header: { key: 'request-id', value: 'req_bench_mock' } },
                                ],
                              },
                            ],
                          },
                        ],
                      },
                      http_filters: [
                        {
                          // Read the whole request before answering, as a real upstream does.
                          name: 'envoy.filters.http.buffer',
                          typed_config: typed('envoy.extensions.filters.http.buffer.v3.Buffer', {
                            max_request_bytes: MAX_BODY_BYTES,
                          }),
                        },
                        {
                          name: 'envoy.filters.http.router',
                          typed_config: typed('envoy.extensions.filters.http.router.v3.Router', {}),
                        },
                      ],
                    },
                  ),
                },
              ],
            },
          ],
        },
      ],
    },
  };
}

export interface MockUpstream {
  readonly url: string;
  readonly envoy: RunningEnvoy;
  stop(): Promise<void>;
}

export async function startMockUpstream(): Promise<MockUpstream> {
  const envoy = await startEnvoy({
    bootstrap: mockBootstrap(),
    stdio: 'ignore',
    args: ['--concurrency', '1'],
  });
  return { url: `http://127.0.0.1:${envoy.port}`, envoy, stop: () => envoy.stop() };
}

/** The paced SSE mock (bench/lib/sse-upstream.ts), in its own process. */
export async function startSseUpstream(): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const server = await spawnServer({
    command: process.execPath,
    args: [join(import.meta.dirname, 'sse-upstream.ts')],
    ready: (output) => /"port":\d+/.test(output),
  });
  const port = (JSON.parse(server.output().split('\n')[0] as string) as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, pid: server.pid, stop: () => server.stop() };
}
