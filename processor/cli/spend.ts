// `npm run cli -- spend [FILE] [--json]`: each workspace's and token's spend
// for the current UTC day and month, with its budgets, read from the
// configured store. Redis is read directly (one script, Redis's clock); the
// memory store's counters live inside the processor, so they are asked of
// the running processor's GET /spend, on its metrics endpoint.
import { parseArgs } from 'node:util';
import { loadSpendView, type SpendView } from '../config/load.ts';
import { readSpend, renderSpend, type SpendReport, spendSubjects } from '../cost/spend.ts';
import { RedisQuotaStore } from '../quota/redis-store.ts';

export const SPEND_USAGE = '  spend [FILE] [--json] (spend today and this month, per workspace and token)\n';

export interface Output {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const STDIO: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

type Env = Readonly<Record<string, string | undefined>>;

export async function spendCommand(argv: readonly string[], env: Env, out: Output = STDIO): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (error) {
    out.stderr(`spend: ${(error as Error).message}\n${SPEND_USAGE}`);
    return 2;
  }
  const loaded = loadSpendView(env, args.positionals[0] ?? env.GATEWAY_CONFIG);
  if (!loaded.ok) {
    out.stderr(`${loaded.problems.map((p) => `problem: ${p}`).join('\n')}\n`);
    return 1;
  }
  const { view } = loaded;
  const read = view.quotaStore.kind === 'redis' ? await fromRedis(view) : await fromProcessor(view);
  if (typeof read === 'string') {
    out.stderr(`spend: ${read}\n`);
    return 1;
  }
  if (args.values.json === true) {
    out.stdout(`${JSON.stringify(read.report, null, 2)}\n`);
    return 0;
  }
  out.stdout(renderSpend(read.report));
  if (read.note !== undefined) out.stdout(`${read.note}\n`);
  return 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({ args: [...argv], allowPositionals: true, options: { json: { type: 'boolean' } } });
}

type Read = { readonly report: SpendReport; readonly note?: string } | string;

async function fromRedis(view: SpendView): Promise<Read> {
  if (view.quotaStore.kind !== 'redis') return 'not a Redis store';
  const { url, keyPrefix, timeoutMs } = view.quotaStore;
  const store = new RedisQuotaStore({ url, keyPrefix, timeoutMs: Math.max(timeoutMs, 1000) });
  try {
    await store.ready(Math.max(timeoutMs, 3000));
    const subjects = spendSubjects(view.workspaces, view.tokens);
    return { report: await readSpend('redis', view.quotaPlan, subjects, (checks) => store.read(checks)) };
  } catch (error) {
    // Never the URL: it may hold a password.
    return `cannot read the Redis store (quotas.redis): ${(error as Error).message}`;
  } finally {
    await store.close();
  }
}

async function fromProcessor(view: SpendView): Promise<Read> {
  const { enabled, address, port } = view.metrics;
  if (!enabled) {
    return (
      'the memory store keeps its counters inside the processor, which serves them on its metrics ' +
      'endpoint (GET /spend), and metrics.enabled is false: enable it, or use the Redis store'
    );
  }
  const url = `http://${hostFor(address)}:${port}/spend`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) return `the processor at ${url} answered ${response.status}`;
    const report = (await response.json()) as SpendReport;
    return {
      report,
      note:
        `(memory store: the counters of the processor at ${url} alone; ` +
        'with several replicas each counts its own: use the Redis store to share them)',
    };
  } catch (error) {
    return (
      `the memory store keeps its counters inside the processor; none answered at ${url} ` +
      `(${(error as Error).message}): is the gateway running with this configuration?`
    );
  }
}

/** Where to reach a server listening on `address`: a wildcard address is reached on loopback. */
function hostFor(address: string): string {
  if (address === '' || address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return address.includes(':') ? `[${address}]` : address;
}
