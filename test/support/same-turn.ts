// Whether an answer given as a promise was there at once: settled before the
// event loop's next turn, so nothing waited for I/O, a timer or a later turn.
import { setImmediate } from 'node:timers';

/** Runs `start` and gives its promise's value, and whether it settled in this turn of the event loop. */
export async function settleTurn<T>(start: () => Promise<T>): Promise<{ value: T; atOnce: boolean }> {
  let turned = false;
  // Queued before anything `start` queues: it runs first if `start` waits for a turn at all.
  setImmediate(() => {
    turned = true;
  });
  const value = await start();
  return { value, atOnce: !turned };
}
