// Operator commands: `npm run cli -- <command>`.
//   mint-token [--id ID] [--workspace WS]  print a new gateway token (once) and the
//                                          config entry that stores only its hash
//   hash-token                             read a token on stdin, print its SHA-256
//   check-config [FILE]                    validate a configuration, list every problem
//   spend [FILE] [--json]                  spend and budgets per workspace and token (cli/spend.ts)
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SPEND_USAGE, spendCommand } from './cli/spend.ts';
import { loadConfig } from './config/load.ts';
import { hashToken, mintToken } from './policy/tokens.ts';

const USAGE = `usage: npm run cli -- <command>
  mint-token [--id ID] [--workspace WORKSPACE]
  hash-token            (reads the token on stdin)
  check-config [FILE]   (default: $GATEWAY_CONFIG)
${SPEND_USAGE}`;

function run(argv: readonly string[]): number | Promise<number> {
  if (argv[0] === 'spend') return spendCommand(argv.slice(1), process.env);
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { id: { type: 'string' }, workspace: { type: 'string' } },
  });
  const [command, file] = positionals;
  switch (command) {
    case 'mint-token': {
      const token = mintToken();
      const id = values.id ?? 'my-token';
      const workspace = values.workspace ?? 'default';
      process.stdout.write(
        `token (shown once, give it to the client): ${token}\n\n` +
          `add to the configuration's tokens (only the hash is stored):\n` +
          `  - id: ${id}\n    workspace: ${workspace}\n    sha256: ${hashToken(token).toString('hex')}\n`,
      );
      return 0;
    }
    case 'hash-token': {
      const token = readFileSync(0, 'utf8').trim();
      if (token === '') {
        process.stderr.write('hash-token: no token on stdin\n');
        return 2;
      }
      process.stdout.write(`${hashToken(token).toString('hex')}\n`);
      return 0;
    }
    case 'check-config': {
      const loaded = loadConfig(process.env, file ?? process.env.GATEWAY_CONFIG);
      if (!loaded.ok) {
        process.stderr.write(`${loaded.problems.map((p) => `problem: ${p}`).join('\n')}\n`);
        return 1;
      }
      for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
      process.stdout.write('configuration OK\n');
      return 0;
    }
    default:
      process.stderr.write(USAGE);
      return 2;
  }
}

void Promise.resolve(run(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
});
