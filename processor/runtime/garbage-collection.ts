// How V8 collects the processor's garbage. Set once, first thing at startup.
import { setFlagsFromString } from 'node:v8';

/** The V8 line the setting below was measured on (Node.js 24). */
const MEASURED_V8_MAJOR = 13;

/**
 * Counts external memory (the `ArrayBuffer`s behind every Buffer: HTTP/2 reads,
 * a message joined from many frames) towards V8's one global heap limit,
 * instead of starting a full collection each time it has grown by a fixed
 * 64 MB. Request bodies are almost all external memory and die young, so with
 * V8's default a 200 KB body costs a full collection every few dozen
 * requests, each a pause of the one thread that answers Envoy. With the
 * flag, 200 KB bodies cause far fewer full collections and a lower p99, and
 * 6 KB bodies do not change: the figures are in docs/benchmarks.md ("Changes,
 * each measured"). The price is memory that waits longer for its collection
 * (docs/operations.md, "Memory").
 *
 * A V8 flag set from code rather than on the command line, so that every way
 * of starting the processor (npm start, the image, `node processor/main.ts`)
 * gets it; it only steers when to collect, so setting it before the server
 * starts is enough. Only on the V8 it was measured on: another V8 may lack the
 * flag (V8 prints an error line instead of the JSON logs) or collect
 * differently, and needs measuring again (bench/compare.ts with 200 KB bodies).
 */
export function tuneGarbageCollection(v8Version: string = process.versions.v8): boolean {
  if (Number.parseInt(v8Version, 10) !== MEASURED_V8_MAJOR) return false;
  setFlagsFromString('--external-memory-accounted-in-global-limit');
  return true;
}
