// The PromQL parser the dashboard test reads queries with (test/support/
// promql.ts): what it takes from a query, and that it refuses what is not PromQL.
import { describe, expect, it } from 'vitest';
import { parsePromQL } from '../support/promql.ts';

describe('parsePromQL', () => {
  it('names the metrics a query selects, with their matchers’ labels and the grouping labels', () => {
    expect(
      parsePromQL(
        'histogram_quantile(0.95, sum by (le, route) (rate(gateway_request_duration_seconds_bucket{model=~"$model"}[$__rate_interval])))',
      ),
    ).toEqual({
      selectors: [{ metric: 'gateway_request_duration_seconds_bucket', labels: ['model'] }],
      groupingLabels: ['le', 'route'],
    });
    expect(
      parsePromQL(
        'sum(rate(a_total{status=~"5..", token!=""}[5m])) / ignoring(status) group_left sum(rate(b_total[1h30m] offset 1d)) > bool 0.5 or vector(0)',
      ),
    ).toEqual({
      selectors: [
        { metric: 'a_total', labels: ['status', 'token'] },
        { metric: 'b_total', labels: [] },
      ],
      groupingLabels: ['status'],
    });
    expect(parsePromQL('time() - max without (instance) (c_seconds) ^ 2 ^ -1').selectors).toEqual([
      { metric: 'c_seconds', labels: [] },
    ]);
    // Grafana's ${__range}, written as Grafana has it.
    const range = ['$', '{__range}'].join('');
    expect(parsePromQL(`sum(increase(d_total[${range}])) by (workspace, token)`)).toEqual({
      selectors: [{ metric: 'd_total', labels: [] }],
      groupingLabels: ['workspace', 'token'],
    });
    expect(parsePromQL('topk(5, e_total) # the five largest').selectors).toHaveLength(1);
    expect(parsePromQL('max_over_time(f[10m:1m])').selectors).toEqual([{ metric: 'f', labels: [] }]);
  });

  it('refuses what is not PromQL', () => {
    for (const query of [
      '',
      'sum(rate(x[5m])',
      'rate(x[5m]))',
      'x{a="1"',
      'x{a=1}',
      'x{a~"1"}',
      'rates(x[5m])',
      'x[5]',
      'sum by (le (x)',
      'x +',
      'x y',
      '"unterminated',
      'by (x)',
      'x $ y',
    ])
      expect(() => parsePromQL(query), query).toThrow();
  });
});
