// The paced SSE mock upstream, run as its own process (so its timers never
// share an event loop with the measuring client): every POST reads the whole
// body, then streams EVENT_COUNT Anthropic-shaped events, the first at once
// and then one every EVENT_INTERVAL_MS, scheduled from the start so that
// timer drift does not accumulate. Prints {"port":N} once it listens.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export const EVENT_COUNT = 64;
export const EVENT_INTERVAL_MS = 20;

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** message_start, content_block_start, deltas, content_block_stop, message_delta, message_stop. */
export function streamEvents(count: number): string[] {
  const deltas = count - 5;
  const events = [
    event('message_start', {
      type: 'message_start',
      message: {
        id: 'msg_bench_sse',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-6',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 1500, output_tokens: 1 },
      },
    }),
    event('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }),
  ];
  for (let i = 0; i < deltas; i++) {
    events.push(
      event('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: `token ${i} ` },
      }),
    );
  }
  events.push(
    event('content_block_stop', { type: 'content_block_stop', index: 0 }),
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: deltas },
    }),
    event('message_stop', { type: 'message_stop' }),
  );
  return events;
}

function main(): void {
  const events = streamEvents(EVENT_COUNT);
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'request-id': 'req_bench_sse',
      });
      const start = performance.now();
      let next = 0;
      const send = () => {
        if (res.destroyed) return;
        res.write(events[next]);
        next += 1;
        if (next === events.length) {
          res.end();
          return;
        }
        const due = start + next * EVENT_INTERVAL_MS;
        setTimeout(send, Math.max(0, due - performance.now()));
      };
      send();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  });
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

if (import.meta.main) main();
