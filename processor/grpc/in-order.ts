// Answers a call's messages one at a time, in the order they came, for a
// method that answers each message with one message (ext_proc): the handler
// only maps a message to a promise of its answer. A message that arrives while
// an answer is still pending waits for it; every message is held
// (ServerCall.hold: a body is freed once its 'data' event is handled
// otherwise) until its answer is written. The call ends with OK after an
// answer that is the last, or once the peer has sent all it will and every
// answer is written.
import { type ServerCall, Status } from './call.ts';

export interface InOrderAnswers<Request, Response> {
  /** The answer to one message; it may wait for I/O or for other turns of the event loop. */
  readonly answer: (message: Request) => Promise<Response>;
  /** What to answer instead when `answer` throws or rejects. */
  readonly failed: (error: unknown, message: Request) => Response;
  /** Whether the call is over once this answer is written. */
  readonly last: (message: Request, response: Response) => boolean;
}

export function answerInOrder<Request, Response>(
  call: ServerCall<Request, Response>,
  answers: InOrderAnswers<Request, Response>,
): void {
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    call.end();
  };

  const respond = async (message: Request, release: () => void): Promise<void> => {
    try {
      // Nothing more is written once the call has ended: nor is anything decided.
      if (ended) return;
      let response: Response;
      try {
        response = await answers.answer(message);
      } catch (error) {
        response = answers.failed(error, message);
      }
      if (ended) return;
      call.write(response);
      if (answers.last(message, response)) end();
    } catch {
      // `failed` or `last` threw: that fails the call, never the process.
      ended = true;
      call.end({ code: Status.INTERNAL, details: 'the message could not be answered' });
    } finally {
      release();
    }
  };

  // Each answer starts once the one before it is written.
  let pending: Promise<void> = Promise.resolve();
  call.on('data', (message: Request) => {
    if (ended) return;
    const release = call.hold();
    pending = pending.then(() => respond(message, release));
  });
  call.on('end', () => {
    pending = pending.then(end);
  });
}
