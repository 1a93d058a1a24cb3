// `node processor/health/healthcheck.ts [ADDRESS]`: asks the processor's health
// service and exits 0 when it is SERVING, 1 otherwise. The container image's
// HEALTHCHECK; ADDRESS defaults to GATEWAY_PROCESSOR_ADDRESS (a wildcard
// listen address is dialled on this machine).
import { dialAddress, formatAddress, parseAddress } from '../config/address.ts';
import { checkHealth } from './client.ts';

const address = formatAddress(
  dialAddress(parseAddress(process.argv[2] ?? process.env.GATEWAY_PROCESSOR_ADDRESS ?? '127.0.0.1:50051')),
);
checkHealth(address).then(
  (status) => {
    process.stdout.write(`${address}: ${status}\n`);
    process.exitCode = status === 'SERVING' ? 0 : 1;
  },
  (error: unknown) => {
    process.stdout.write(`${address}: unreachable (${(error as Error).message})\n`);
    process.exitCode = 1;
  },
);
