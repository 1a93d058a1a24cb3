// A processor that was killed (SIGKILL, a crash) leaves its Unix socket file
// behind, and binding the same path again fails with EADDRINUSE: a restarted
// processor could not come back on the address Envoy dials. The file is
// removed only when nothing answers on it, so a processor still listening
// there keeps its socket and the new one fails with "address in use".
import { lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';

/** Whether a process accepts connections on the Unix socket at `path`. */
export function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    // ECONNREFUSED: a file nobody listens on; ENOENT: no file. Anything else
    // (EACCES, EAGAIN with a full backlog) is taken as in use: left alone.
    probe.once('error', (error: NodeJS.ErrnoException) =>
      resolve(error.code !== 'ECONNREFUSED' && error.code !== 'ENOENT'),
    );
  });
}

/** Removes the socket file at `path` when no process listens on it; anything else is left alone. */
export async function removeStaleSocket(path: string): Promise<boolean> {
  try {
    if (!lstatSync(path).isSocket()) return false;
  } catch {
    return false;
  }
  if (await socketInUse(path)) return false;
  try {
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}
