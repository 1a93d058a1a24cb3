// What of a client's own text the gateway may repeat, in an error message or
// a log line: a bounded prefix of printable ASCII. Anything else (control
// characters, quotes, backslashes, non-ASCII, a bidi override) is written as
// a JSON-style escape, so a client cannot make a message or a log line say
// more than it says, or make it long.

/** More than any real model id (Anthropic's are some 30 characters). */
export const MAX_ECHO_LENGTH = 64;

function escapePrefix(text: string): { readonly shown: string; readonly cut: boolean } {
  const cut = text.length > MAX_ECHO_LENGTH;
  let shown = '';
  for (const char of cut ? text.slice(0, MAX_ECHO_LENGTH) : text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === '\\') shown += `\\${char}`;
    else if (code >= 0x20 && code <= 0x7e) shown += char;
    else {
      // One \uXXXX per UTF-16 unit, as JSON writes characters beyond the BMP.
      for (let i = 0; i < char.length; i += 1) {
        shown += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
      }
    }
  }
  return { shown, cut };
}

/** `text` as a log field may hold it: escaped, and "…" (the one non-ASCII character) when cut. */
export function echo(text: string): string {
  const { shown, cut } = escapePrefix(text);
  return cut ? `${shown}…` : shown;
}

/** `text` quoted for a message: `"claude-foo"`, or `"claude-fooooo"…` when cut. */
export function quoted(text: string): string {
  const { shown, cut } = escapePrefix(text);
  return cut ? `"${shown}"…` : `"${shown}"`;
}
