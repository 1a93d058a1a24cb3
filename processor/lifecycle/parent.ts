// When a launcher (`npm start`, or scripts/processor-child.ts directly, as
// the tests and the benchmark do) runs the processor, it holds an IPC channel
// to it. The channel closes when the launcher is gone, however it went
// (SIGKILL included): then nobody reads the processor's log and Envoy is going
// away too, so the processor shuts down as on SIGTERM rather than serve on,
// orphaned. Run any other way (a container, by hand), it has no channel and
// this does nothing.

/** Resolves once the launcher's channel closes; never, without a launcher. */
export function launcherGone(): Promise<void> {
  const channel = process.channel;
  if (channel === undefined) return new Promise(() => {});
  // The channel alone must not keep the process alive once it has stopped serving.
  channel.unref();
  if (!process.connected) return Promise.resolve();
  return new Promise((resolve) => process.once('disconnect', () => resolve()));
}
