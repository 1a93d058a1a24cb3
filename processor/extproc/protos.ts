// Loads the ext_proc service definition from the protos in @grpc/grpc-js-xds.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../../protos/generated/external_processor.ts';
import { extProcProtoFile, protoLoaderOptions } from '../../protos/index.ts';

export function loadExtProcService(): ServiceDefinition {
  const definition = loadSync(extProcProtoFile, protoLoaderOptions);
  const grpcObject = loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  return grpcObject.envoy.service.ext_proc.v3.ExternalProcessor.service;
}
