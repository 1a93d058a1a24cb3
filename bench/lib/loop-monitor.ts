// Preloaded into the processor by the benchmark (NODE_OPTIONS=--import this
// file; the processor's own code is unchanged): a 1 ms timer that, at each
// tick, reads the main thread's CPU time (process.threadCpuUsage). The CPU
// time the thread spent between two ticks is the length of what ran in
// between without a break, the event-loop block, counted in CPU time: on a
// machine shared with other work, the wall time between two ticks also counts
// the time the thread waited for a core. Both are kept, the longest of each.
//
// SIGUSR2 writes the longest of each since the last signal, as JSON with a
// sequence number, to the file named by BENCH_LOOP_MONITOR_FILE, and starts
// over (bench/hostile-bodies.ts sends one before a body and one after it).
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_LOOP_MONITOR_FILE;
if (file !== undefined) {
  const threadCpuMs = () => {
    const { user, system } = process.threadCpuUsage();
    return (user + system) / 1000;
  };
  let lastWall = performance.now();
  let lastCpu = threadCpuMs();
  let longestWallMs = 0;
  let longestCpuMs = 0;
  let sequence = 0;
  const tick = () => {
    const wall = performance.now();
    const cpu = threadCpuMs();
    longestWallMs = Math.max(longestWallMs, wall - lastWall);
    longestCpuMs = Math.max(longestCpuMs, cpu - lastCpu);
    lastWall = wall;
    lastCpu = cpu;
  };
  setInterval(tick, 1).unref();
  process.on('SIGUSR2', () => {
    tick();
    sequence += 1;
    writeFileSync(file, JSON.stringify({ sequence, longestWallMs, longestCpuMs }));
    longestWallMs = 0;
    longestCpuMs = 0;
  });
}
