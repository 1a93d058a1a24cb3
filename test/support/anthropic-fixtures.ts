// Realistic Anthropic responses for the feature matrix (a test fixture): messages
// with thinking, redacted thinking and tool use, and their event streams as the
// API sends them (thinking_delta then signature_delta, input_json_delta, cache
// usage in message_start and message_delta). The fake upstream serves them.
import type { SseEvent, Usage } from './fake-upstream.ts';

export type Block =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'thinking'; readonly thinking: string; readonly signature: string }
  | { readonly type: 'redacted_thinking'; readonly data: string }
  | {
      readonly type: 'tool_use';
      readonly id: string;
      readonly name: string;
      readonly input: Record<string, unknown>;
    };

/** Looks like the real thing: opaque base64 the client must send back unchanged. */
export const THINKING_SIGNATURE =
  'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/5+ERIrb+G1VsTHcaW3IuG41AAW3yGSbhKL+0q4xG6dO/lQ2Z5u8IexBz6eCoQ3CUFd9B0+8rNc7HyB4B2qg==';
export const REDACTED_THINKING =
  'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj2pUC4a9tz4hbw9JfFwKhQ=';

export const CACHE_USAGE: Usage = {
  input_tokens: 50,
  output_tokens: 200,
  cache_creation_input_tokens: 10000,
  cache_read_input_tokens: 2048,
};

export function message(
  model: string,
  content: readonly Block[],
  usage: Usage = { input_tokens: 12, output_tokens: 7 },
  stopReason = 'end_turn',
) {
  return {
    id: 'msg_fake_features_01',
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage,
  };
}

/** Splits text into two deltas (or one, when short), as the API streams it. */
function pieces(text: string): string[] {
  const half = Math.ceil(text.length / 2);
  return text.length < 2 ? [text] : [text.slice(0, half), text.slice(half)];
}

function blockEvents(block: Block, index: number): SseEvent[] {
  const delta = (value: Record<string, unknown>): SseEvent => ({
    event: 'content_block_delta',
    data: { type: 'content_block_delta', index, delta: value },
  });
  const start = (contentBlock: Record<string, unknown>): SseEvent => ({
    event: 'content_block_start',
    data: { type: 'content_block_start', index, content_block: contentBlock },
  });
  const stop: SseEvent = { event: 'content_block_stop', data: { type: 'content_block_stop', index } };
  switch (block.type) {
    case 'text':
      return [
        start({ type: 'text', text: '' }),
        ...pieces(block.text).map((text) => delta({ type: 'text_delta', text })),
        stop,
      ];
    case 'thinking':
      return [
        start({ type: 'thinking', thinking: '', signature: '' }),
        ...pieces(block.thinking).map((thinking) => delta({ type: 'thinking_delta', thinking })),
        delta({ type: 'signature_delta', signature: block.signature }),
        stop,
      ];
    case 'redacted_thinking':
      return [start({ type: 'redacted_thinking', data: block.data }), stop];
    case 'tool_use':
      return [
        start({ type: 'tool_use', id: block.id, name: block.name, input: {} }),
        ...pieces(JSON.stringify(block.input)).map((partial_json) =>
          delta({ type: 'input_json_delta', partial_json }),
        ),
        stop,
      ];
  }
}

/** The whole event stream of `message(model, content, usage, stopReason)`. */
export function messageEvents(
  model: string,
  content: readonly Block[],
  usage: Usage = { input_tokens: 12, output_tokens: 7 },
  stopReason = 'end_turn',
): SseEvent[] {
  return [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          ...message(model, [], { ...usage, output_tokens: 1 }),
          stop_reason: null,
        },
      },
    },
    { event: 'ping', data: { type: 'ping' } },
    ...content.flatMap(blockEvents),
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: stopReason, stop_sequence: null },
        // The API repeats the cumulative usage, cache counts included, at the end.
        usage,
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ];
}
