// Every shell example of README.md and docs/ runs as written, or is listed
// below with the reason it cannot run here. The commands are read from the
// documents themselves (test/support/doc-commands.ts), so an edited example
// is run as edited and a new one must be classified. They run in bash, with
// the README's exports evaluated as written and `npm` pointed at this
// checkout (`npm --prefix`), from a scratch folder holding the reader's
// token.txt. What the environment adds only keeps them apart from other
// runs: ports 0 (GATEWAY_*_PORT), a private run directory and a fake
// Anthropic upstream (ANTHROPIC_UPSTREAM_URL); `localhost:8080` in a command
// becomes the port the gateway got.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { buildConfig } from '../../processor/config/load.ts';
import { hashToken, mintToken } from '../../processor/policy/tokens.ts';
import { answerClaudeCode, OFFLINE_ENV } from '../support/claude-code.ts';
import { type DocCommand, shellCommands } from '../support/doc-commands.ts';
import { type FakeUpstream, startFakeUpstream } from '../support/fake-upstream.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const COMMANDS: readonly DocCommand[] = DOCS.flatMap((doc) => shellCommands(doc, join(ROOT, doc)));
const EXAMPLE = 'docs/gateway.example.yaml';
/** The command the example configuration's header shows. */
const EXAMPLE_START = /^#\s+(GATEWAY_CONFIG=\S+ npm start)$/m.exec(read(EXAMPLE))?.[1];

/** What cannot run on this machine, or would run the suite inside itself. */
const NOT_RUN: ReadonlyArray<readonly [RegExp, string]> = [
  [/^npm install\b/, 'installs the packages; .ci/run does it on a fresh clone'],
  [/^npm test$/, 'the whole suite, this test among it'],
  [/^docker compose /, 'needs a Docker engine (test/e2e/compose-stack.test.ts runs it where one is)'],
  [
    /^npm run (?:bench|soak)|^node bench\//,
    'the benchmark and the soak: minutes of load (test/e2e/soak.test.ts runs 20 s of the soak)',
  ],
  [/^FUZZ_RUNS=/, 'the hour-long fuzzing run'],
  [/^npm run test:|^npx vitest /, 'a part of the suite (docs/testing.md), this test perhaps among it'],
  [/^kubectl /, 'needs a Kubernetes cluster'],
  [/^apt-get /, 'installs a system package'],
  [/^export REDIS_URL=|^GATEWAY_CONFIG=gateway\.yaml /, "needs Redis and the reader's own gateway.yaml"],
  [
    /^(?:useradd|git clone|npm --prefix \/opt\/\S+|install|\(umask|systemctl|journalctl) /,
    'sets up a systemd service on the host (test/unit/systemd-unit.test.ts and test/e2e/systemd-unit.test.ts check the unit)',
  ],
];

type Kind = 'export' | 'server' | 'cli' | 'client';

function kindOf(command: string): Kind | undefined {
  if (NOT_RUN.some(([pattern]) => pattern.test(command))) return undefined;
  if (/^export [A-Z_]+=/.test(command)) return 'export';
  if (/^(?:[A-Z_]+=\S+ )*npm start$/.test(command)) return 'server';
  if (/^npm run cli -- /.test(command)) return 'cli';
  if (/^(?:curl|claude) /.test(command)) return 'client';
  return undefined;
}

const of = (doc: string, kind: Kind) => COMMANDS.filter((c) => c.doc === doc && kindOf(c.command) === kind);

let upstream: FakeUpstream;
const scratch = mkdtempSync(join(tmpdir(), 'doc-examples-'));
const cwd = join(scratch, 'reader');
const home = join(scratch, 'home');
const runDir = join(scratch, 'run');
const TOKEN_TXT = mintToken();
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The environment every example gets, before the documents' own exports. */
function baseEnv(): NodeJS.ProcessEnv {
  return {
    PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    LANG: 'C.UTF-8',
    GATEWAY_PORT: '0',
    GATEWAY_ADMIN_PORT: '0',
    GATEWAY_METRICS_PORT: '0',
    GATEWAY_RUN_DIR: runDir,
    ANTHROPIC_UPSTREAM_URL: upstream.url,
    ...OFFLINE_ENV,
  };
}

/** The command as bash runs it here: npm on this checkout, the gateway's real port. */
function asRun(command: string, port: number | undefined): string {
  const withPort = port === undefined ? command : command.replaceAll('localhost:8080', `localhost:${port}`);
  return withPort.replace(/(^|[\s;&|])npm (?=run |start$)/g, `$1npm --prefix '${ROOT}' `);
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** What the command printed, without the lines `npm run` puts first (`> package@version script`). */
const printed = (result: Run) => result.stdout.replace(/^\n(?:> .*\n)+\n/, '');

function run(command: string, env: NodeJS.ProcessEnv, port?: number): Promise<Run> {
  return new Promise((resolveRun) => {
    const child = spawn('bash', ['-c', asRun(command, port)], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** A document's `export` lines, evaluated by bash as written on top of `env`: the variables they set. */
async function evaluateExports(exports: readonly DocCommand[], env: NodeJS.ProcessEnv, port?: number) {
  const names = exports.flatMap(({ command }) =>
    [...command.matchAll(/\b([A-Z_][A-Z0-9_]*)=/g)].map((m) => m[1]),
  );
  const script = `${exports.map(({ command }) => asRun(command, port)).join('\n')}\nenv -0`;
  const result = await run(script, env);
  expect(result.code, result.stderr).toBe(0);
  const values: Record<string, string> = {};
  for (const entry of result.stdout.split('\0')) {
    const at = entry.indexOf('=');
    const name = entry.slice(0, at);
    if (names.includes(name)) values[name] = entry.slice(at + 1);
  }
  expect(Object.keys(values).sort()).toEqual([...new Set(names)].sort());
  return values;
}

interface Server {
  readonly port: number;
  /** Ctrl-C: SIGINT to the command's whole process group, as a terminal sends it. */
  stop(): Promise<void>;
}

async function startServer(command: string, env: NodeJS.ProcessEnv): Promise<Server> {
  const child: ChildProcess = spawn('bash', ['-c', asRun(command, undefined)], {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  const pid = child.pid as number;
  const serving = /serving http:\/\/localhost:(\d+)\/ai-gateway\/anthropic/;
  let port: number;
  try {
    port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`\`${command}\` is not serving after 60 s:\n${output}`)),
        60_000,
      );
      const look = () => {
        const match = serving.exec(output);
        if (match === null) return;
        clearTimeout(timer);
        resolvePort(Number(match[1]));
      };
      child.stdout?.on('data', look);
      child.stderr?.on('data', look);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`\`${command}\` exited:\n${output}`));
      });
    });
  } catch (error) {
    process.kill(-pid, 'SIGKILL');
    throw error;
  }
  return {
    port,
    stop: async () => {
      process.kill(-pid, 'SIGINT');
      await exited;
      // The processor stopped cleanly: it removed its pid file.
      await vi.waitFor(() => expect(readdirSync(runDir)).toEqual([]), { timeout: 30_000 });
    },
  };
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  upstream.useDefault(answerClaudeCode('Neon is serverless Postgres.'));
  for (const dir of [cwd, home]) mkdirSync(dir);
  writeFileSync(join(cwd, 'token.txt'), `${TOKEN_TXT}\n`);
});
afterAll(async () => {
  await upstream?.close();
});

describe('the shell examples of README.md and docs/', () => {
  it('are each run below, or listed with the reason they cannot run here', () => {
    const unclassified = COMMANDS.filter(
      (c) => kindOf(c.command) === undefined && !NOT_RUN.some(([pattern]) => pattern.test(c.command)),
    );
    expect(unclassified).toEqual([]);
    // What the checks below run: the README's quick start and CLI, the clients' examples.
    expect(of('README.md', 'cli').length).toBeGreaterThanOrEqual(5);
    expect(of('README.md', 'server').map((c) => c.command)).toEqual(['npm start']);
    expect(of('docs/clients.md', 'client').length).toBe(2);
    expect(EXAMPLE_START).toBe('GATEWAY_CONFIG=docs/gateway.example.yaml npm start');
  });
});

/** What each of the README's CLI examples must print. */
const CLI_OUTPUT: ReadonlyArray<readonly [RegExp, (result: Run) => void]> = [
  [
    /mint-token/,
    (r) =>
      expect(printed(r)).toMatch(
        /^token \(shown once, give it to the client\): agw_\S+\n[\s\S]* {2}- id: alice\n/,
      ),
  ],
  [/check-config/, (r) => expect(printed(r)).toBe('configuration OK\n')],
  [/hash-token/, (r) => expect(printed(r)).toBe(`${hashToken(TOKEN_TXT).toString('hex')}\n`)],
  [/reload/, (r) => expect(printed(r)).toMatch(/^reload: processor \d+ applied the configuration\n$/)],
  [/--help/, (r) => expect(printed(r)).toMatch(/^usage: npm run cli -- <command>/)],
];

describe('README.md: export the key and the token, npm start, then the examples against it', () => {
  let env: NodeJS.ProcessEnv;
  let server: Server;
  beforeAll(async () => {
    env = { ...baseEnv(), ...(await evaluateExports(of('README.md', 'export').slice(0, 2), baseEnv())) };
    server = await startServer('npm start', env);
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
  }, 60_000);

  for (const { command } of of('README.md', 'cli')) {
    it(command, async () => {
      const result = await run(command, env, server.port);
      expect(result.code, result.stderr).toBe(0);
      const check = CLI_OUTPUT.find(([pattern]) => pattern.test(command))?.[1];
      if (check === undefined) throw new Error(`no expected output for ${command}`);
      check(result);
    });
  }

  for (const { doc, command } of [...of('README.md', 'client'), ...of('docs/clients.md', 'client')]) {
    it(`${doc}: ${command.slice(0, 60)}…`, async () => {
      upstream.reset();
      upstream.useDefault(answerClaudeCode('Neon is serverless Postgres.'));
      // A client's shell: the gateway token (the README's) and the document's own exports, not the Anthropic key.
      const clientEnv: NodeJS.ProcessEnv = { ...baseEnv(), GATEWAY_TOKEN: env.GATEWAY_TOKEN };
      if (doc !== 'README.md') {
        Object.assign(clientEnv, await evaluateExports(of(doc, 'export'), clientEnv, server.port));
      }
      const result = await run(command, clientEnv, server.port);
      expect(result.code, result.stderr).toBe(0);
      if (command.startsWith('claude ')) {
        expect(result.stdout.trim()).toBe('Neon is serverless Postgres.');
      } else {
        expect(JSON.parse(result.stdout)).toMatchObject({
          type: 'message',
          content: [{ type: 'text', text: 'Neon is serverless Postgres.' }],
        });
      }
      expect(upstream.received.length).toBeGreaterThan(0);
      expect(upstream.received.every((r) => r.url.startsWith('/v1/messages'))).toBe(true);
    }, 120_000);
  }

  it("the configuration it shows loads with the README's exports", () => {
    const yaml = /## Configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(read('README.md'))?.[1];
    expect(yaml).toBeDefined();
    const result = buildConfig(parse(yaml ?? ''), env);
    expect(result.ok ? [] : result.problems).toEqual([]);
  });
});

describe(`${EXAMPLE}: its header's command`, () => {
  it('starts the gateway with only the README’s exports, and serves the example’s tokens', async () => {
    const env: NodeJS.ProcessEnv = {
      ...baseEnv(),
      ...(await evaluateExports(of('README.md', 'export').slice(0, 2), baseEnv())),
      // With a file, the processor listens on TCP: on a free port, away from other runs.
      GATEWAY_PROCESSOR_ADDRESS: '127.0.0.1:0',
    };
    const server = await startServer(EXAMPLE_START ?? 'missing', env);
    try {
      // The example's `ci` token is GATEWAY_TOKEN; its catalog is its own.
      const response = await fetch(`http://127.0.0.1:${server.port}/ai-gateway/anthropic/v1/models`, {
        headers: { 'x-api-key': env.GATEWAY_TOKEN ?? '' },
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { data: Array<{ id: string }> };
      expect(body.data.map((model) => model.id)).toEqual([
        'claude-opus-4-8',
        'claude-sonnet-4-6',
        'claude-haiku-4-5',
      ]);
    } finally {
      await server.stop();
    }
    expect(existsSync(runDir)).toBe(true);
  }, 120_000);
});
