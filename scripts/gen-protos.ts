// Generates TypeScript types for the ext_proc and access-log protos, and for
// Envoy's bootstrap as JSON (scripts/gen-bootstrap-types.ts), into
// protos/generated/ (git-ignored). Run by `npm install` (scripts/setup.sh) and
// `npm run gen:protos`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accessLogProtoFile, extProcProtoFile, protoIncludeDirs } from '../protos/index.ts';
import { generateBootstrapTypes } from './gen-bootstrap-types.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'protos/generated');
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

execFileSync(
  join(root, 'node_modules/.bin/proto-loader-gen-types'),
  [
    // The files come first: the array-valued --includeDirs would swallow them.
    extProcProtoFile,
    accessLogProtoFile,
    '--keepCase',
    '--longs=String',
    '--enums=String',
    '--oneofs',
    '--grpcLib=@grpc/grpc-js',
    `--outDir=${outDir}`,
    '--importFileExtension=.ts',
    ...protoIncludeDirs.map((dir) => `--includeDirs=${dir}`),
  ],
  { stdio: 'inherit' },
);

generateBootstrapTypes(join(outDir, 'bootstrap-json.ts'));
