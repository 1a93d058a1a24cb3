// The short soak (bench/soak/; `npm run soak` runs the long one): mixed traffic
// through `npm start` while the processor is SIGKILLed, Redis restarts, the
// configuration reloads and the upstream resets streams and answers 529.
// Whatever happens, nothing unapproved reaches the upstream, every completed
// answer is intact, every error is Anthropic-shaped, and the gateway serves
// again once the faults stop.
import { describe, expect, it } from 'vitest';
import { runSoak, type SoakReport } from '../../bench/soak/run.ts';

describe('soak under faults (short)', () => {
  let report: SoakReport;

  it('keeps every invariant through processor kills, Redis restarts, reloads and upstream faults', async () => {
    report = await runSoak({
      durationMs: 20_000,
      ratePerSecond: 20,
      scenario: {
        shortStream: { events: 5, intervalMs: 40 },
        longStream: { events: 40, intervalMs: 200 },
        largeBodyBytes: 1024 * 1024,
      },
      faults: {
        killProcessorMs: 6_000,
        killUntilMs: 20_000,
        restartRedisMs: 7_000,
        redisDownMs: 1_000,
        reloadMs: 2_500,
      },
      maxLongStreams: 3,
      sampleMs: 1_000,
    });
    expect(report.unapproved).toEqual([]);
    expect(report.traffic.corrupt).toEqual([]);
    expect(report.traffic.malformed).toEqual([]);
    expect(report.traffic.unexpected).toEqual([]);
    expect(report.servesAfterwards).toBe(true);
  }, 120_000);

  it('injected every fault, and the launcher brought the processor back after each kill', () => {
    expect(report.faults.processorKills).toBeGreaterThanOrEqual(2);
    // A kill may catch a processor still starting: it is an exit all the same.
    expect(report.processorExits).toBe(report.faults.processorKills);
    expect(report.processorRestarts).toBeGreaterThanOrEqual(1);
    expect(report.faults.redisRestarts).toBeGreaterThanOrEqual(2);
    // A reload written while no processor runs is read at the next start instead.
    expect(report.reloadsApplied).toBeGreaterThanOrEqual(1);
    expect(report.reloadsRejected).toBe(0);
    expect(report.upstreamReceived.upstream_reset).toBeGreaterThan(0);
    expect(report.upstreamReceived.upstream_529).toBeGreaterThan(0);
  });

  it('answered every kind of request, long streams included, between the faults', () => {
    for (const outcome of [
      'json 200',
      'sse 200',
      'long_sse 200',
      'count_tokens 200',
      'models 200',
      'large 200',
    ]) {
      expect(report.traffic.outcomes[outcome], outcome).toBeGreaterThan(0);
    }
    expect(report.traffic.outcomes['unknown_model 400']).toBeGreaterThan(0);
    expect(report.traffic.outcomes['bad_token 401']).toBeGreaterThan(0);
    expect(report.traffic.outcomes['upstream_529 529']).toBeGreaterThan(0);
  });

  it('writes at most one access line per request', () => {
    expect(report.accessLines).toBeGreaterThan(0);
    expect(report.accessLines).toBeLessThanOrEqual(report.traffic.sent);
  });
});
