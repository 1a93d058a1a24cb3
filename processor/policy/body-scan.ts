// Scans a buffered request body for its model without holding the event loop
// for long: a big body is scanned a slice at a time, and between two slices
// the processor answers whatever else has arrived (other requests' headers and
// bodies, health checks). The scan itself is model-scanner.ts's; only when it
// runs is decided here.
//
// Why: what a scan costs depends on the body's shape as well as its size.
// Prose is read four bytes a step; `[0,0,0,…`, `[[[[…` or `{"":0,"":0,…` is
// a token or a nesting level every byte or two and takes many times as long.
// In one go, 32 MB of such a shape held every other request for the whole
// scan (the figures: docs/security.md, "Hostile body shapes"). A slice is
// about 1 MiB of the body (SCAN_SLICE_BYTES), a short hold even for the worst
// shapes. Plain text and whitespace are read whole, at full speed, about as
// an ordinary body of that size.
import { setImmediate } from 'node:timers';
import { type ModelScan, type ScanOptions, scanModel, startModelScan } from './model-scanner.ts';

/** Bodies up to this size are scanned at once; a bigger one, this much at a time. */
export const SCAN_SLICE_BYTES = 1024 * 1024;

/**
 * The body's scan. A small body, or one whose first slice settles it, is
 * scanned at once (the promise is settled before this returns); a bigger one
 * a slice per turn of the event loop. When `gone()` turns true between
 * slices (nobody waits for the answer any more), the scan stops and the
 * promise gives undefined.
 */
export function scanBody(
  body: Buffer,
  options: ScanOptions,
  gone: () => boolean,
  sliceBytes: number = SCAN_SLICE_BYTES,
): Promise<ModelScan | undefined> {
  // In a promise's executor: a scan that throws rejects the promise.
  return new Promise((resolve) => {
    if (body.length <= sliceBytes) {
      resolve(scanModel(body, options));
      return;
    }
    const scanner = startModelScan(body, options);
    const next = () => {
      if (gone()) {
        resolve(undefined);
        return;
      }
      const verdict = scanner.advance(sliceBytes);
      if (verdict === undefined) setImmediate(next);
      else resolve(verdict);
    };
    const first = scanner.advance(sliceBytes);
    if (first === undefined) setImmediate(next);
    else resolve(first);
  });
}
