// Generates TypeScript types for Envoy's bootstrap as JSON (the proto3 JSON
// mapping, with the .proto's snake_case field names, as envoy/bootstrap/
// writes it) into protos/generated/bootstrap-json.ts (git-ignored), from the
// protos in @grpc/grpc-js-xds: envoy.config.bootstrap.v3.Bootstrap, every
// message it reaches, and the extension configs the bootstrap puts in a
// typed_config (TYPED_CONFIGS), which become one union discriminated by
// `@type`. A misspelt field is then a tsc error, before `envoy --mode
// validate`. Run by scripts/gen-protos.ts (`npm install`, `npm run gen:protos`).
//
// Messages and fields newer than those protos are typed by hand in
// envoy/bootstrap/newer-protos.ts, which extends these interfaces.
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { protoIncludeDirs } from '../protos/index.ts';

/** The extension configs the bootstrap uses, by the proto file that defines each. */
const TYPED_CONFIGS: ReadonlyArray<readonly [file: string, message: string]> = [
  [
    'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
    'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  ],
  [
    'envoy/extensions/filters/http/ext_proc/v3/ext_proc.proto',
    'envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
  ],
  ['envoy/extensions/filters/http/router/v3/router.proto', 'envoy.extensions.filters.http.router.v3.Router'],
  ['envoy/extensions/filters/http/rbac/v3/rbac.proto', 'envoy.extensions.filters.http.rbac.v3.RBAC'],
  [
    'envoy/extensions/filters/http/header_mutation/v3/header_mutation.proto',
    'envoy.extensions.filters.http.header_mutation.v3.HeaderMutation',
  ],
  [
    'envoy/extensions/filters/http/set_filter_state/v3/set_filter_state.proto',
    'envoy.extensions.filters.http.set_filter_state.v3.Config',
  ],
  [
    'envoy/extensions/filters/http/json_to_metadata/v3/json_to_metadata.proto',
    'envoy.extensions.filters.http.json_to_metadata.v3.JsonToMetadata',
  ],
  [
    'envoy/extensions/filters/http/upstream_codec/v3/upstream_codec.proto',
    'envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec',
  ],
  [
    'envoy/extensions/access_loggers/grpc/v3/als.proto',
    'envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig',
  ],
  [
    'envoy/extensions/access_loggers/filters/cel/v3/cel.proto',
    'envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter',
  ],
  [
    'envoy/extensions/transport_sockets/tls/v3/tls.proto',
    'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  ],
  [
    'envoy/extensions/transport_sockets/tls/v3/tls.proto',
    'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  ],
  [
    'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  ],
  [
    'envoy/extensions/resource_monitors/downstream_connections/v3/downstream_connections.proto',
    'envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig',
  ],
  ['envoy/config/route/v3/route_components.proto', 'envoy.config.route.v3.FilterConfig'],
];

const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';

/** Well-known types, as the proto3 JSON mapping writes them. */
const WELL_KNOWN: Readonly<Record<string, string>> = {
  'google.protobuf.Any': 'Any',
  'google.protobuf.Duration': 'string',
  'google.protobuf.Timestamp': 'string',
  'google.protobuf.FieldMask': 'string',
  'google.protobuf.Struct': '{ readonly [key: string]: unknown }',
  'google.protobuf.Value': 'unknown',
  'google.protobuf.ListValue': 'readonly unknown[]',
  'google.protobuf.Empty': 'Record<string, never>',
  'google.protobuf.BoolValue': 'boolean',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'string',
  'google.protobuf.DoubleValue': 'number',
  'google.protobuf.FloatValue': 'number',
  'google.protobuf.Int32Value': 'number',
  'google.protobuf.UInt32Value': 'number',
  'google.protobuf.Int64Value': 'number | string',
  'google.protobuf.UInt64Value': 'number | string',
};

const SCALARS: Readonly<Record<string, string>> = {
  string: 'string',
  bytes: 'string',
  bool: 'boolean',
  double: 'number',
  float: 'number',
  int32: 'number',
  uint32: 'number',
  sint32: 'number',
  fixed32: 'number',
  sfixed32: 'number',
  int64: 'number | string',
  uint64: 'number | string',
  sint64: 'number | string',
  fixed64: 'number | string',
  sfixed64: 'number | string',
};

const fullName = (type: protobuf.ReflectionObject): string => type.fullName.replace(/^\./, '');
const tsName = (type: protobuf.ReflectionObject): string => fullName(type).replaceAll('.', '_');

/** Google's protos protobufjs does not load by itself (@grpc/proto-loader does the same). */
function addCommonProtos(): void {
  const require = createRequire(import.meta.url);
  for (const name of ['api', 'descriptor', 'source_context', 'type']) {
    const json = require(`protobufjs/google/protobuf/${name}.json`) as {
      nested: { google: { nested: { protobuf: { nested: protobuf.INamespace['nested'] } } } };
    };
    protobuf.common(name, json.nested.google.nested.protobuf.nested as Record<string, protobuf.INamespace>);
  }
}

export function generateBootstrapTypes(outFile: string): void {
  addCommonProtos();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of protoIncludeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync(
    ['envoy/config/bootstrap/v3/bootstrap.proto', ...new Set(TYPED_CONFIGS.map(([file]) => file))],
    {
      keepCase: true,
    },
  );
  root.resolveAll();

  const out: string[] = [];
  const done = new Set<string>();
  const queue: protobuf.ReflectionObject[] = [
    root.lookupType(BOOTSTRAP),
    ...TYPED_CONFIGS.map(([, message]) => root.lookupType(message)),
  ];

  const typeOf = (field: protobuf.Field): string => {
    const resolved = field.resolvedType;
    if (resolved === null) return SCALARS[field.type] ?? 'unknown';
    const known = WELL_KNOWN[fullName(resolved)];
    if (known !== undefined) return known;
    queue.push(resolved);
    return tsName(resolved);
  };

  while (queue.length > 0) {
    const type = queue.shift() as protobuf.ReflectionObject;
    const name = tsName(type);
    if (done.has(name)) continue;
    done.add(name);
    if (type instanceof protobuf.Enum) {
      const values = Object.keys(type.values).map((value) => JSON.stringify(value));
      out.push(`/** ${fullName(type)} */\nexport type ${name} = ${values.join(' | ')} | number;\n`);
      continue;
    }
    const message = type as protobuf.Type;
    const fields = message.fieldsArray.map((field) => {
      let value = typeOf(field);
      if (field instanceof protobuf.MapField) value = `{ readonly [key: string]: ${value} }`;
      else if (field.repeated) value = `ReadonlyArray<${value}>`;
      return `  readonly ${field.name}?: ${value};`;
    });
    out.push(`/** ${fullName(type)} */\nexport interface ${name} {\n${fields.join('\n')}\n}\n`);
  }

  const configs = TYPED_CONFIGS.map(
    ([, message]) => `  ${JSON.stringify(message)}: ${message.replaceAll('.', '_')};`,
  );
  const header = `// GENERATED by scripts/gen-bootstrap-types.ts from the protos in @grpc/grpc-js-xds: do not edit.
// Envoy's bootstrap as JSON (proto3 JSON mapping, snake_case field names).

/** The messages a typed_config may hold, by full name; envoy/bootstrap/newer-protos.ts adds newer ones. */
export interface TypedConfigs {
${configs.join('\n')}
}

/**
 * A google.protobuf.Any: one of TypedConfigs, named by its \`@type\`, or empty
 * (as a route's FilterConfig that only switches a filter on).
 */
export type Any =
  | {
      [Name in keyof TypedConfigs]: { readonly '@type': \`type.googleapis.com/\${Name}\` } & TypedConfigs[Name];
    }[keyof TypedConfigs]
  | Record<string, never>;

export type Bootstrap = ${BOOTSTRAP.replaceAll('.', '_')};
`;
  writeFileSync(outFile, `${header}\n${out.join('\n')}`);
}
