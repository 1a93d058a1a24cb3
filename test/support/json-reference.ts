// What the model scan must say about a body, derived from the platform alone:
// a fatal UTF-8 decoder (BOM kept, as JSON.parse sees it) and JSON.parse.
// Shared by the scanner's unit tests.
import { type ModelScan, type ScanProblem, scanModel } from '../../processor/policy/model-scanner.ts';

const fail = (problem: ScanProblem): ModelScan => ({ ok: false, problem });

export const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The verdict JSON.parse implies. JSON.parse keeps the last of duplicate
 * keys, so it cannot see a duplicate "model": that one case is checked
 * separately (see `agreesWithJsonParse`).
 */
export function reference(body: Uint8Array): ModelScan {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return fail('invalid_utf8');
  }
  if (/^[ \t\n\r]*$/.test(text)) return fail('empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('invalid_json');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail('not_an_object');
  if (!Object.hasOwn(value, 'model')) return fail('missing_model');
  const model: unknown = Reflect.get(value, 'model');
  return typeof model === 'string' ? { ok: true, model } : fail('model_not_a_string');
}

/** Whether `actual` agrees with the reference (a duplicate is only possible where a model exists). */
export function agreesWith(actual: ModelScan, body: Uint8Array): boolean {
  const expected = reference(body);
  if (!actual.ok && actual.problem === 'duplicate_model') {
    return expected.ok || expected.problem === 'model_not_a_string';
  }
  return JSON.stringify(actual) === JSON.stringify(expected);
}

/** True when the scan agrees with the reference. */
export function agreesWithJsonParse(body: Uint8Array): boolean {
  return agreesWith(scanModel(Buffer.from(body.buffer, body.byteOffset, body.byteLength)), body);
}
