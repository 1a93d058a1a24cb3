// Loads Envoy's access-log service definition from the protos in @grpc/grpc-js-xds.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../../protos/generated/als.ts';
import { accessLogProtoFile, protoLoaderOptions } from '../../protos/index.ts';

export function loadAccessLogService(): ServiceDefinition {
  const definition = loadSync(accessLogProtoFile, protoLoaderOptions);
  const grpcObject = loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  return grpcObject.envoy.service.accesslog.v3.AccessLogService.service;
}
