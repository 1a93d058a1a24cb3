// Operator commands: `npm run cli -- <command>` (`npm run cli -- --help`).
//   mint-token [--id ID] [--workspace WS]  print a new gateway token (once) and the
//                                          config entry that stores only its hash
//   hash-token                             read a token on stdin, print its SHA-256
//   check-config [FILE]                    validate a configuration, list every problem
//   reload [--pid PID]                     make the running processor re-read its
//                                          configuration and secret files (SIGHUP)
//   spend [FILE] [--json]                  spend and budgets per workspace and token (cli/spend.ts)
// A bad command line gets one line saying what is wrong and the usage, exit 2;
// nothing an operator types ever prints a stack trace.
import { readFileSync } from 'node:fs';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { spendCommand } from './cli/spend.ts';
import { type Environment, loadConfig } from './config/load.ts';
import { listProcessors, type ProcessorRecord, readProcessor, runDirectory } from './lifecycle/pid-file.ts';
import { hashToken, mintToken } from './policy/tokens.ts';

export interface CliIo {
  readonly env: Environment;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** All of standard input. */
  readonly stdin: () => string;
  /** Sends a signal to a process (the processor, for `reload`). */
  readonly signal: (pid: number, signal: NodeJS.Signals) => void;
  readonly sleep: (ms: number) => Promise<void>;
}

type Values = Record<string, string | boolean | undefined>;

interface Command {
  readonly name: string;
  /** The arguments, as in the usage line. */
  readonly synopsis: string;
  readonly summary: string;
  /** What --help prints below the usage line. */
  readonly help: string;
  readonly options: ParseArgsOptionsConfig;
  readonly maxPositionals: number;
  /** Async, whether or not it waits for anything: a UsageError it throws rejects, and runCli reports it. */
  run(values: Values, positionals: readonly string[], io: CliIo): Promise<number>;
}

/** Characters a terminal would act on: C0 and C1 controls, line and bidi controls. */
const isControl = (code: number) =>
  code < 0x20 ||
  (code >= 0x7f && code <= 0x9f) ||
  code === 0x2028 ||
  code === 0x2029 ||
  (code >= 0x202a && code <= 0x202e) ||
  (code >= 0x2066 && code <= 0x2069);

/** Typed text repeated in a message: control characters escaped, a long text cut. */
function shown(text: string, max = 120): string {
  let out = '';
  for (const char of text.length > max ? text.slice(0, max) : text) {
    const code = char.codePointAt(0) ?? 0;
    out += isControl(code) ? `\\u${code.toString(16).padStart(4, '0')}` : char;
  }
  return text.length > max ? `${out}…` : out;
}

/** A YAML scalar for an id: plain when it is safe, else quoted. */
const yamlScalar = (text: string) =>
  /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(text) ? text : JSON.stringify(text);

const mintTokenCommand: Command = {
  name: 'mint-token',
  synopsis: '[--id ID] [--workspace WORKSPACE]',
  summary: 'print a new token (once) and its configuration entry',
  help: `  --id ID                the token's public name, for logs and metrics (default: my-token)
  --workspace WORKSPACE  the workspace whose Anthropic key it uses (default: default)
The token is printed once; the configuration stores only its SHA-256.`,
  options: { id: { type: 'string' }, workspace: { type: 'string' } },
  maxPositionals: 0,
  async run(values, _positionals, io) {
    const id = typeof values.id === 'string' ? values.id : 'my-token';
    const workspace = typeof values.workspace === 'string' ? values.workspace : 'default';
    for (const [flag, value] of [
      ['--id', id],
      ['--workspace', workspace],
    ] as const) {
      if (value === '') throw new UsageError(`${flag} must not be empty`);
      if ([...value].some((c) => isControl(c.codePointAt(0) ?? 0))) {
        throw new UsageError(`${flag} must not contain control characters`);
      }
    }
    const token = mintToken();
    io.stdout(
      `token (shown once, give it to the client): ${token}\n\n` +
        `add to the configuration's tokens (only the hash is stored):\n` +
        `  - id: ${yamlScalar(id)}\n    workspace: ${yamlScalar(workspace)}\n    sha256: ${hashToken(token).toString('hex')}\n`,
    );
    return 0;
  },
};

const hashTokenCommand: Command = {
  name: 'hash-token',
  synopsis: '< TOKEN_FILE',
  summary: 'print the SHA-256 of a token read on stdin',
  help: 'Reads the token on standard input (one trailing newline or space is ignored).',
  options: {},
  maxPositionals: 0,
  async run(_values, _positionals, io) {
    const token = io.stdin().trim();
    if (token === '') throw new UsageError('no token on stdin');
    io.stdout(`${hashToken(token).toString('hex')}\n`);
    return 0;
  },
};

const checkConfigCommand: Command = {
  name: 'check-config',
  synopsis: '[FILE]',
  summary: 'list every problem of a configuration ($GATEWAY_CONFIG)',
  help: `Loads FILE as the gateway would, with this environment (its secrets are read too), and
prints every problem at once: the schema's and those across entries. Exit 0 when it is
valid, 1 when it has problems.`,
  options: {},
  maxPositionals: 1,
  async run(_values, positionals, io) {
    const loaded = loadConfig(io.env, positionals[0] ?? io.env.GATEWAY_CONFIG);
    if (!loaded.ok) {
      io.stderr(`${loaded.problems.map((p) => `problem: ${p}`).join('\n')}\n`);
      return 1;
    }
    for (const warning of loaded.warnings) io.stderr(`warning: ${warning}\n`);
    io.stdout('configuration OK\n');
    return 0;
  },
};

/** How long `reload` waits for the processor to report its reload. */
const RELOAD_WAIT_MS = 10_000;
const RELOAD_POLL_MS = 50;

const describeProcessor = (p: ProcessorRecord) =>
  `pid ${p.pid}, ${p.address}, ${p.config === null ? 'no configuration file' : p.config}`;

const reloadCommand: Command = {
  name: 'reload',
  synopsis: '[--pid PID]',
  summary: 'make the running gateway re-read its configuration',
  help: `  --pid PID  which processor, when several run on this machine
Finds the processor by the file it keeps in ${'$'}GATEWAY_RUN_DIR (default: a private folder
in the system's temporary directory), sends it SIGHUP and waits for its verdict. The
processor also reloads by itself when the file changes; reload also re-reads secret files
(a rotated key). A file with problems is refused and the running configuration keeps
serving: reload then lists the problems and exits 1.`,
  options: { pid: { type: 'string' } },
  maxPositionals: 0,
  async run(values, _positionals, io) {
    const running = listProcessors(io.env);
    let target: ProcessorRecord | undefined;
    if (typeof values.pid === 'string') {
      if (!/^[1-9]\d{0,9}$/.test(values.pid))
        throw new UsageError(`--pid: not a process id: ${shown(values.pid)}`);
      const pid = Number(values.pid);
      target = running.find((p) => p.pid === pid);
      if (target === undefined) {
        io.stderr(`reload: no gateway processor with pid ${pid} is running\n`);
        for (const p of running) io.stderr(`  running: ${describeProcessor(p)}\n`);
        return 1;
      }
    } else if (running.length === 1) {
      target = running[0];
    } else if (running.length === 0) {
      io.stderr(
        `reload: no running gateway processor found (in ${runDirectory(io.env)}); start it with npm start\n`,
      );
      return 1;
    } else {
      io.stderr('reload: several gateway processors are running; choose one with --pid:\n');
      for (const p of running) io.stderr(`  ${describeProcessor(p)}\n`);
      return 2;
    }
    if (target === undefined) return 1;

    const before = target.reloads;
    io.signal(target.pid, 'SIGHUP');
    for (let waited = 0; waited < RELOAD_WAIT_MS; waited += RELOAD_POLL_MS) {
      await io.sleep(RELOAD_POLL_MS);
      const now = readProcessor(io.env, target.pid);
      const report = now?.lastReload;
      if (now === undefined || now.reloads <= before || report === undefined) continue;
      if (!report.applied) {
        io.stderr(
          `reload: processor ${target.pid} refused the configuration; the previous one keeps serving:\n` +
            (report.problems ?? []).map((p) => `problem: ${p}\n`).join(''),
        );
        return 1;
      }
      io.stdout(`reload: processor ${target.pid} applied the configuration\n`);
      if (report.needRestart !== undefined && report.needRestart.length > 0) {
        io.stderr(`warning: these settings change only with a restart: ${report.needRestart.join(', ')}\n`);
      }
      return 0;
    }
    io.stderr(
      `reload: sent SIGHUP to processor ${target.pid}, which did not report back within ${RELOAD_WAIT_MS / 1000} s; see its log\n`,
    );
    return 1;
  },
};

const spendCommandEntry: Command = {
  name: 'spend',
  synopsis: '[FILE] [--json]',
  summary: 'spend today and this month, and the budgets, per workspace and token',
  help: `  FILE    the configuration (default: $GATEWAY_CONFIG)
  --json  the report as JSON
With the Redis store it reads Redis; with the memory store it asks the running
processor (its metrics port), whose counters are that one process's.`,
  options: { json: { type: 'boolean' } },
  maxPositionals: 1,
  async run(values, positionals, io) {
    return spendCommand([...positionals, ...(values.json === true ? ['--json'] : [])], io.env, io);
  },
};

const COMMANDS: readonly Command[] = [
  mintTokenCommand,
  hashTokenCommand,
  checkConfigCommand,
  reloadCommand,
  spendCommandEntry,
];

const commandUsage = (command: Command) => `usage: npm run cli -- ${command.name} ${command.synopsis}`;

const USAGE = `usage: npm run cli -- <command> [options]   (npm run cli -- <command> --help)
${COMMANDS.map((c) => `  ${`${c.name} ${c.synopsis}`.padEnd(45)} ${c.summary}`).join('\n')}
`;

/** A command line the CLI cannot run: reported in one line with the usage, exit 2. */
class UsageError extends Error {}

const HELP = new Set(['--help', '-h', 'help']);

/** Runs one command line; never throws, never prints a stack trace. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(USAGE);
    return 2;
  }
  if (HELP.has(name)) {
    const about = rest[0] === undefined ? undefined : COMMANDS.find((c) => c.name === rest[0]);
    io.stdout(about === undefined ? USAGE : `${commandUsage(about)}\n${about.summary}\n${about.help}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr(`cli: unknown command ${shown(name)}\n${USAGE}`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({
      args: [...rest],
      allowPositionals: true,
      strict: true,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help === true) {
      io.stdout(`${commandUsage(command)}\n${command.summary}\n${command.help}\n`);
      return 0;
    }
    if (positionals.length > command.maxPositionals) {
      const extra = positionals[command.maxPositionals] ?? '';
      throw new UsageError(`unexpected argument ${shown(extra)}`);
    }
    return await command.run(values, positionals, io);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) {
      // parseArgs's messages quote the argument as typed (escaped here) and
      // may add a tip about '--' in a second sentence: the first says it.
      const message = (error as Error).message.split(/\. (?=[A-Z])/)[0] ?? '';
      io.stderr(`cli: ${command.name}: ${shown(message)}\n${commandUsage(command)}\n`);
      return 2;
    }
    io.stderr(`cli: ${command.name}: ${shown(error instanceof Error ? error.message : String(error))}\n`);
    return 1;
  }
}

const processIo: CliIo = {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stdin: () => readFileSync(0, 'utf8'),
  signal: (pid, signal) => process.kill(pid, signal),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

if (import.meta.main) process.exitCode = await runCli(process.argv.slice(2), processIo);
