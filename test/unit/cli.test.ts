// The operator CLI never answers a command line with a stack trace: whatever
// argv holds (fast-check), runCli resolves with 0, 1 or 2 and prints lines of
// its own, without control characters of the operator's text. Run in-process
// with a fake io: no signal may be sent (the run directory is empty), stdin
// is generated too. test/integration/cli.test.ts runs the real process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliIo, runCli } from '../../processor/cli.ts';
import { runs } from '../support/fuzz.ts';

const runDir = mkdtempSync(join(tmpdir(), 'cli-fuzz-run-'));
afterAll(() => rmSync(runDir, { recursive: true, force: true }));

async function run(argv: readonly string[], stdin = '') {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    env: { GATEWAY_RUN_DIR: runDir },
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    stdin: () => stdin,
    signal: () => {
      throw new Error('the CLI sent a signal');
    },
    sleep: async () => {},
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

const STACK_LINE = /^\s+at\s/m;
// Control characters but the newline: what the CLI prints of the operator's text is escaped.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what it looks for
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const word = fc.oneof(
  fc.constantFrom(
    'mint-token',
    'hash-token',
    'check-config',
    'reload',
    'help',
    '--help',
    '-h',
    '--id',
    '--workspace',
    '--pid',
    '--pid=0',
    '--pid=12345678901',
    '--id=',
    '--',
    '-',
    '-x',
    '--nope',
    '-hh',
    'launch',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 12 }).map((s) => `--${s}`),
  fc.string({ unit: 'grapheme-ascii', maxLength: 12 }).map((s) => `-${s}`),
);

describe('runCli on any argv', () => {
  it('exits 0, 1 or 2 with its own lines: never a stack trace, never the typed control characters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(word, { maxLength: 6 }),
        fc.string({ unit: 'binary', maxLength: 40 }),
        async (argv, stdin) => {
          const result = await run(argv, stdin);
          expect([0, 1, 2]).toContain(result.code);
          expect(`${result.stdout}${result.stderr}`).not.toMatch(STACK_LINE);
          expect(result.stderr).not.toMatch(CONTROL);
          if (result.code === 2 && argv.length > 0) expect(result.stderr).toMatch(/usage: npm run cli -- /);
        },
      ),
      { numRuns: runs(300) },
    );
  });
});

describe('runCli', () => {
  it('prints the usage for --help, -h and help, exit 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const result = await run(argv);
      expect(result.code, argv.join(' ')).toBe(0);
      for (const command of ['mint-token', 'hash-token', 'check-config', 'reload']) {
        expect(result.stdout).toContain(`  ${command} `);
      }
    }
  });

  it('prints each command’s help for <command> --help and help <command>', async () => {
    for (const command of ['mint-token', 'hash-token', 'check-config', 'reload']) {
      for (const argv of [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
      ]) {
        const result = await run(argv);
        expect(result, argv.join(' ')).toMatchObject({ code: 0, stderr: '' });
        expect(result.stdout).toMatch(new RegExp(`^usage: npm run cli -- ${command}`));
      }
    }
  });

  it('answers a bad command line with one line saying what is wrong, then the usage, exit 2', async () => {
    const cases: ReadonlyArray<readonly [string[], string]> = [
      [['mint-token', '--bogus'], "cli: mint-token: Unknown option '--bogus'"],
      [['mint-token', '--id'], "cli: mint-token: Option '--id <value>' argument missing"],
      [['mint-token', '--id', ''], 'cli: mint-token: --id must not be empty'],
      [['mint-token', '--id', 'a\u001b[2Jb'], 'cli: mint-token: --id must not contain control characters'],
      [['check-config', 'a.yaml', 'b.yaml'], 'cli: check-config: unexpected argument b.yaml'],
      [['hash-token', 'extra'], 'cli: hash-token: unexpected argument extra'],
      [['reload', '--pid', 'x'], 'cli: reload: --pid: not a process id: x'],
      [['launch\u001b[31m'], 'cli: unknown command launch\\u001b[31m'],
    ];
    for (const [argv, first] of cases) {
      const result = await run(argv);
      expect(result.code, argv.join(' ')).toBe(2);
      const [line, usage] = result.stderr.split('\n');
      expect(line).toBe(first);
      expect(usage).toMatch(/^usage: npm run cli -- /);
    }
  });

  it('reload finds no processor in an empty run directory, and sends nothing', async () => {
    const result = await run(['reload']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `reload: no running gateway processor found (in ${runDir}); start it with npm start\n`,
    );
    expect((await run(['reload', '--pid', '1'])).stderr).toBe(
      'reload: no gateway processor with pid 1 is running\n',
    );
  });
});
