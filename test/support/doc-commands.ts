// The shell commands a document shows, as a reader would type them: the
// ```sh blocks of a Markdown file, one command per line (a line ending in a
// backslash continues on the next), comments dropped.
import { readFileSync } from 'node:fs';

export interface DocCommand {
  /** Where it is shown, e.g. "README.md". */
  readonly doc: string;
  readonly command: string;
}

/** `line` without its trailing `# comment` (a `#` outside quotes, after a blank or at the start). */
function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i += 1;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i += 1;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1] ?? ''))) return line.slice(0, i);
  }
  return line;
}

export function shellCommands(doc: string, path: string): DocCommand[] {
  const text = readFileSync(path, 'utf8');
  const commands: DocCommand[] = [];
  for (const [, body] of text.matchAll(/^```(?:sh|bash|shell)\n([\s\S]*?)^```$/gm)) {
    let pending = '';
    for (const raw of (body ?? '').split('\n')) {
      const line = withoutComment(raw).trimEnd();
      if (line.endsWith('\\')) {
        pending += `${line.slice(0, -1).trim()} `;
        continue;
      }
      const command = `${pending}${line.trim()}`.trim();
      pending = '';
      if (command !== '') commands.push({ doc, command });
    }
  }
  return commands;
}
