// What operators chart and read cannot drift from what the gateway exports:
// every PromQL query of deploy/grafana-dashboard.json is parsed, and each
// metric it selects must have samples on the real processor's /metrics
// after traffic of every kind (forwarded, streamed, counted, listed, refused,
// over quota), with the labels the query filters and groups by. Likewise
// every Envoy statistic docs/operations.md tells operators to watch must be
// on the real Envoy's /stats/prometheus.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, messageBody, sseResponder, textStreamEvents } from '../support/fake-upstream.ts';
import { GATEWAY_TOKEN, type GatewayStack, seedRequest, startStack } from '../support/gateway-stack.ts';
import { parsePromQL } from '../support/promql.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const LIMITED_TOKEN = 'agw_e2e_dashboard_limited_0123456789abcdefghijk';

let stack: GatewayStack;

beforeAll(async () => {
  stack = await startStack({
    env: { LIMITED_TOKEN },
    config: {
      workspaces: [{ id: 'default', upstream_api_key: { env: 'ANTHROPIC_API_KEY' } }],
      tokens: [
        { id: 'default', workspace: 'default', env: 'GATEWAY_TOKEN' },
        { id: 'limited', workspace: 'default', env: 'LIMITED_TOKEN', quota: { requests_per_minute: 1 } },
      ],
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});

/** Sends one request of every kind the dashboard charts; resolves with how many were sent. */
async function traffic(): Promise<number> {
  const send = async (path: string, init: RequestInit): Promise<number> => {
    const response = await fetch(`${stack.baseUrl}${path}`, init);
    await response.arrayBuffer();
    return response.status;
  };
  const post = (path: string, token: string, body: unknown) =>
    send(path, {
      method: 'POST',
      headers: { 'x-api-key': token, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  stack.upstream.queue((_request, res) =>
    json(res, 200, messageBody('claude-sonnet-4-6', 'hi', { input_tokens: 30, output_tokens: 4 })),
  );
  stack.upstream.queue(
    sseResponder(
      textStreamEvents('claude-haiku-4-5', ['a', 'b'], {
        input_tokens: 5,
        output_tokens: 2,
        cache_creation_input_tokens: 7,
        cache_read_input_tokens: 11,
      }),
    ),
  );
  stack.upstream.queue((_request, res) => json(res, 200, { input_tokens: 13 }));
  stack.upstream.queue((_request, res) =>
    json(res, 200, messageBody('claude-sonnet-4-6', 'hi', { input_tokens: 3, output_tokens: 1 })),
  );
  const statuses = [
    await post('/v1/messages', GATEWAY_TOKEN, seedRequest()),
    await post('/v1/messages', GATEWAY_TOKEN, seedRequest('claude-haiku-4-5', { stream: true })),
    await post('/v1/messages/count_tokens', GATEWAY_TOKEN, seedRequest()),
    await send('/v1/models', { headers: { 'x-api-key': GATEWAY_TOKEN } }),
    await post('/v1/messages', 'agw_e2e_not_a_token_at_all_0123456789abcd', seedRequest()),
    await post('/v1/messages', LIMITED_TOKEN, seedRequest()),
    await post('/v1/messages', LIMITED_TOKEN, seedRequest()),
    // A model of the catalog without a built-in price: a request of unknown cost.
    await post('/v1/messages', GATEWAY_TOKEN, seedRequest('claude-haiku-5-5')),
  ];
  expect(statuses).toEqual([200, 200, 200, 200, 401, 200, 429, 200]);
  return statuses.length;
}

interface Samples {
  /** For each metric (sample name), the label names seen on its samples. */
  readonly labels: ReadonlyMap<string, ReadonlySet<string>>;
}

/** The sample names and their label names in Prometheus text. */
function readSamples(text: string): Samples {
  const labels = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? \S+/.exec(line);
    if (match?.[1] === undefined) throw new Error(`not a sample line: ${line}`);
    const names = labels.get(match[1]) ?? new Set<string>();
    for (const [, name] of (match[2] ?? '').matchAll(/([A-Za-z_]\w*)="(?:[^"\\]|\\.)*"/g))
      if (name !== undefined) names.add(name);
    labels.set(match[1], names);
  }
  return { labels };
}

interface Panel {
  readonly title?: string;
  readonly targets?: ReadonlyArray<{ readonly expr?: string }>;
  readonly panels?: readonly Panel[];
  readonly type?: string;
}
interface Dashboard {
  readonly panels: readonly Panel[];
  readonly templating: {
    readonly list: ReadonlyArray<{
      readonly name: string;
      readonly type: string;
      readonly definition?: string;
    }>;
  };
}

const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana-dashboard.json'), 'utf8')) as Dashboard;

/** Every query of the dashboard, with where it is: the panels' and the variables' label_values(). */
function queries(): Array<{ readonly where: string; readonly expr: string; readonly label?: string }> {
  const found: Array<{ where: string; expr: string; label?: string }> = [];
  const walk = (panels: readonly Panel[]) => {
    for (const panel of panels) {
      if (panel.type !== 'row')
        expect(panel.targets?.length ?? 0, `${panel.title}: no query`).toBeGreaterThan(0);
      for (const target of panel.targets ?? [])
        found.push({ where: `panel "${panel.title}"`, expr: target.expr ?? '' });
      walk(panel.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'query') continue;
    const match = /^label_values\((.+),\s*([A-Za-z_]\w*)\)$/.exec(variable.definition ?? '');
    if (match?.[1] === undefined || match[2] === undefined)
      throw new Error(`variable ${variable.name}: not label_values(selector, label)`);
    found.push({ where: `variable $${variable.name}`, expr: match[1], label: match[2] });
  }
  return found;
}

describe('deploy/grafana-dashboard.json', () => {
  it('queries only metrics the processor exports, with the labels they have', async () => {
    const sent = await traffic();
    // Every entry of the traffic has been settled (counted) by the processor.
    const received = async () =>
      Number(
        /^gateway_access_log_entries_total (\d+)$/m.exec(await (await fetch(stack.metricsUrl)).text())?.[1],
      );
    await expect.poll(received, { timeout: 10_000 }).toBeGreaterThanOrEqual(sent);
    const { labels } = readSamples(await (await fetch(stack.metricsUrl)).text());

    const all = queries();
    expect(all.length).toBeGreaterThan(20);
    const variables = new Set(dashboard.templating.list.map((v) => v.name));
    const used = new Set<string>();
    for (const { where, expr, label } of all) {
      const parsed = parsePromQL(expr);
      expect(parsed.selectors.length, `${where}: selects no metric`).toBeGreaterThan(0);
      const present = new Set<string>();
      for (const { metric, labels: matched } of parsed.selectors) {
        used.add(metric);
        const seen = labels.get(metric);
        expect(seen, `${where}: ${metric} has no sample on /metrics`).toBeDefined();
        for (const name of matched) expect(seen, `${where}: ${metric} has no label ${name}`).toContain(name);
        for (const name of seen ?? []) present.add(name);
      }
      for (const name of [...parsed.groupingLabels, ...(label === undefined ? [] : [label])])
        expect(present, `${where}: no metric of ${expr} has the label ${name}`).toContain(name);
      // Only variables the dashboard defines, or Grafana's own.
      for (const [, name] of expr.matchAll(/\$\{?(\w+)/g))
        if (name !== undefined && !name.startsWith('__'))
          expect(variables, `${where}: $${name}`).toContain(name);
    }
    // The dashboard covers what it is for.
    for (const metric of [
      'gateway_requests_total',
      'gateway_tokens_total',
      'gateway_request_duration_seconds_bucket',
      'gateway_time_to_first_byte_seconds_bucket',
      'gateway_rejected_requests_total',
      'gateway_config_reloads_total',
      'process_cpu_seconds_total',
    ])
      expect(used).toContain(metric);
    // And the labels it groups tokens by are on the token counter.
    for (const name of ['workspace', 'token', 'model', 'kind'])
      expect(labels.get('gateway_tokens_total')).toContain(name);
  });
});

/** The `envoy_*` names in the table of docs/operations.md's "Envoy's own statistics". */
function documentedEnvoyStats(): string[] {
  const doc = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  const section = /\n### Envoy's own statistics\n([\s\S]*?)(?=\n##)/.exec(doc)?.[1];
  if (section === undefined) throw new Error('docs/operations.md has no "Envoy\'s own statistics" section');
  const names = new Set<string>();
  for (const line of section.split('\n'))
    if (line.startsWith('| `envoy_'))
      for (const [, name] of line.split('|')[1]?.matchAll(/`(envoy_\w+)`/g) ?? [])
        if (name !== undefined) names.add(name);
  return [...names];
}

describe("docs/operations.md: Envoy's own statistics", () => {
  it("names only statistics Envoy's /stats/prometheus has", async () => {
    const text = await stack.envoy.admin.get('/stats/prometheus');
    const { labels } = readSamples(text.replace(/\{\}/g, ''));
    const names = documentedEnvoyStats();
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(labels.has(name), name).toBe(true);
  });
});
