// Measures one streamed call the way a client feels it: the time from sending
// the request to the first SSE event, and the arrival time of every event.
import { Agent, request } from 'node:http';

export interface StreamTiming {
  /** Request sent (body written) to the first complete event, ms. */
  readonly firstEventMs: number;
  /** Arrival of each event, ms after the request was sent. */
  readonly eventsMs: number[];
  readonly status: number;
  /** The start of the body when the status is not 200, to say why. */
  readonly failure?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

export function streamOnce(
  url: string,
  headers: Readonly<Record<string, string>>,
  body: Buffer,
): Promise<StreamTiming> {
  return new Promise((resolve, reject) => {
    const eventsMs: number[] = [];
    let start = 0;
    let pending = '';
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(body.length) },
      },
      (res) => {
        res.setEncoding('utf8');
        let failure = '';
        res.on('data', (chunk: string) => {
          const now = performance.now() - start;
          if (res.statusCode !== 200) {
            if (failure.length < 300) failure += chunk;
            return;
          }
          pending += chunk;
          // One event per blank line; a chunk may hold several, or half of one.
          let end = pending.indexOf('\n\n');
          while (end !== -1) {
            eventsMs.push(now);
            pending = pending.slice(end + 2);
            end = pending.indexOf('\n\n');
          }
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const firstEventMs = eventsMs[0] ?? Number.NaN;
          resolve(
            status === 200
              ? { firstEventMs, eventsMs, status }
              : { firstEventMs, eventsMs, status, failure: `${status} ${failure.slice(0, 300)}` },
          );
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setNoDelay(true);
    start = performance.now();
    req.end(body);
  });
}

export function closeStreamClient(): void {
  agent.destroy();
}
