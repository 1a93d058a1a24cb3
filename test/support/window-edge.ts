// Quota windows are minutes of the clock. A test that counts in one window
// waits, when needed, until it is clear of a minute's edge, so its requests
// cannot straddle two windows. At most a few seconds; nothing is timed.
export async function awayFromMinuteEdge(marginMs = 8_000): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 60_000 - marginMs) {
    await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 100));
  }
}
