// Where Envoy's protos come from and how they are loaded. The .proto files ship
// inside @grpc/grpc-js-xds; we never copy them into this repository. The type
// generator (scripts/gen-protos.ts) and the runtime loader share these options,
// so the generated types describe exactly the objects the loader produces.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Options } from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
const xdsRoot = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));

export const protoIncludeDirs: readonly string[] = [
  join(xdsRoot, 'deps/envoy-api'),
  join(xdsRoot, 'deps/xds'),
  join(xdsRoot, 'deps/googleapis'),
  join(xdsRoot, 'deps/protoc-gen-validate'),
];

export const extProcProtoFile = 'envoy/service/ext_proc/v3/external_processor.proto';

/** Envoy's gRPC access-log service: the stream Envoy reports each finished request on. */
export const accessLogProtoFile = 'envoy/service/accesslog/v3/als.proto';

/**
 * keepCase: field names as in the .proto (snake_case), as Envoy documents them.
 * bytes stay Buffers (the default): a request body is never decoded to a string.
 * enums as strings and no defaults: absent fields are `undefined`, cheap to test.
 * oneofs: the decoded object names which member of a oneof is set.
 */
export const protoLoaderOptions: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [...protoIncludeDirs],
};
