// Request bodies of exact sizes, shaped like real Messages API calls: a 6 KB
// conversation, a 200 KB prompt-cached context, and the 32 MB maximum.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BODY_SIZES = { small: 6 * 1024, large: 200 * 1024 } as const;
export type BodySize = keyof typeof BODY_SIZES;
/** Anthropic's documented maximum request size is 32 MB; the gateway's limit is 32 MiB. */
export const HUGE_BODY_BYTES = 32_000_000;

const PROSE =
  'The gateway forwards the body byte for byte, so that prompt caching and thinking signatures hold. ';

/** A Messages request of exactly `bytes` bytes (UTF-8), with `stream` as given. */
export function messagesBody(bytes: number, stream = false): Buffer {
  const shape = (text: string) =>
    JSON.stringify({
      model: 'claude-sonnet-4-6',
      max_tokens: 1024,
      ...(stream ? { stream: true } : {}),
      system: [{ type: 'text', text, cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'Summarise the context above in one sentence.' }],
    });
  const room = bytes - Buffer.byteLength(shape(''));
  if (room < 0) throw new Error(`a body of ${bytes} bytes is too small for the request's shape`);
  const text = PROSE.repeat(Math.ceil(room / PROSE.length)).slice(0, room);
  const body = Buffer.from(shape(text));
  if (body.length !== bytes) throw new Error(`built ${body.length} bytes instead of ${bytes}`);
  return body;
}

export function writeBody(dir: string, name: string, bytes: number, stream = false): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, messagesBody(bytes, stream));
  return path;
}
