// The health service name Envoy's health check asks about (envoy/bootstrap.ts)
// and the processor answers for (processor/health/service.ts). A module of its own
// so that rendering Envoy's bootstrap does not load the health service.
export const EXT_PROC_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';
