// A misbehaving ext_proc processor, for the failure tests (a fixture, never
// product code). It runs as its own child process (rogue-processor-main.ts),
// so that it can really crash, and speaks the ext_proc service from the same
// protos as the real processor, but answers badly in one chosen way. Envoy
// must fail closed on every one of them.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROGUE_BEHAVIOURS = [
  /** The process dies (SIGKILL) as soon as the request's headers arrive. */
  'crash',
  /** Never answers: Envoy's message timeout must fire. */
  'hang',
  /** Answers "go ahead, with the upstream key" after 3 s: later than any message timeout the tests set. */
  'slow',
  /** Fails the gRPC stream with INTERNAL instead of answering. */
  'abort',
  /** Closes the stream cleanly (OK) without ever answering: ext_proc lets Envoy go on. */
  'end',
  /** Lets the headers through (with a key), then closes the stream cleanly instead of judging the body. */
  'end-after-headers',
  /** Answers the request_headers message with a request_body response. */
  'wrong-phase',
  /** Answers with a ProcessingResponse that sets nothing at all. */
  'empty',
  /** Answers with bytes that are not a ProcessingResponse. */
  'garbage-bytes',
  /** A header mutation Envoy must refuse: rewriting :authority / host. */
  'mutate-authority',
  /** A header mutation Envoy must refuse: a value with CR LF (header injection). */
  'mutate-crlf',
  /** A header mutation Envoy must refuse: removing a pseudo-header. */
  'remove-path',
] as const;

export type RogueBehaviour = (typeof ROGUE_BEHAVIOURS)[number];

/** The key a rogue that lets a request through would inject; the upstream must never see it. */
export const ROGUE_UPSTREAM_KEY = 'sk-ant-rogue-processor-key';

/** How long the `slow` behaviour waits before answering. */
export const SLOW_ANSWER_MS = 3_000;

const MAIN = join(dirname(fileURLToPath(import.meta.url)), 'rogue-processor-main.ts');

export interface RunningRogue {
  readonly behaviour: RogueBehaviour;
  readonly address: string;
  /** Resolves with the exit code or signal once the process has gone (crashed or stopped). */
  readonly exited: Promise<string>;
  /** How many ext_proc messages it has received so far (reported on its stdout). */
  readonly received: () => number;
  stop(): Promise<void>;
}

/** Starts a rogue processor on `address` (`127.0.0.1:0` for any port). */
export function startRogueProcessor(behaviour: RogueBehaviour, address: string): Promise<RunningRogue> {
  const child: ChildProcess = spawn(process.execPath, [MAIN, behaviour, address], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? String(code))),
  );
  let received = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rogue processor (${behaviour}) did not start in time`));
    }, 15_000);
    let ready = false;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const event = JSON.parse(line) as { listening?: string; received?: number };
      if (event.received !== undefined) received = event.received;
      if (event.listening !== undefined && !ready) {
        ready = true;
        clearTimeout(timer);
        resolve({
          behaviour,
          address: event.listening,
          exited,
          received: () => received,
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            await exited;
          },
        });
      }
    });
    void exited.then((how) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`rogue processor (${behaviour}) exited before listening (${how})`));
      }
    });
  });
}
