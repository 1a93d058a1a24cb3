// Envoy's access-log stream (envoy.service.accesslog.v3.AccessLogService/
// StreamAccessLogs): one long-lived, client-streaming call per Envoy worker,
// each message a batch of the entries of requests that have ended, with
// their dynamic metadata (the policy's facts, the usage Envoy read) and
// Envoy's timings, status and flags. Each entry becomes an access record and
// is settled: quotas charged, access line written, metrics counted. Envoy
// never waits for this stream: a request is over before its entry is sent.
import type { StreamAccessLogsMessage__Output } from '../../protos/generated/envoy/service/accesslog/v3/StreamAccessLogsMessage.ts';
import type { StreamAccessLogsResponse } from '../../protos/generated/envoy/service/accesslog/v3/StreamAccessLogsResponse.ts';
import type { ServerCall } from '../grpc/call.ts';
import { generatedMethod, type Method } from '../grpc/server.ts';
import { toAccessRecord } from '../metering/access-record.ts';
import { type SettleDeps, settle } from '../metering/settle.ts';
import { readEntry } from './entry.ts';
import { loadAccessLogService } from './protos.ts';

export type AccessLogCall = ServerCall<StreamAccessLogsMessage__Output, StreamAccessLogsResponse>;

export interface AccessLogService {
  readonly handle: (call: AccessLogCall) => void;
  /** Ends every open stream with OK: Envoy sends its next batch on a new stream (to a replica that is up). */
  readonly closeAll: () => void;
  /** How many streams are open now. */
  readonly open: () => number;
}

export function createAccessLogService(deps: SettleDeps): AccessLogService {
  const calls = new Set<AccessLogCall>();

  const take = (message: StreamAccessLogsMessage__Output): void => {
    for (const entry of message.http_logs?.log_entry ?? []) {
      deps.metrics?.accessLogEntries.inc();
      try {
        settle(deps, toAccessRecord(readEntry(entry)));
      } catch (error) {
        // One entry that cannot be settled costs its line, never the batch or the stream.
        deps.metrics?.streamErrors.inc({ stream: 'access_log' });
        deps.log.error({ err: error }, 'access log entry failed');
      }
    }
  };

  const finish = (call: AccessLogCall): void => {
    calls.delete(call);
    call.write({});
    call.end();
  };

  return {
    handle: (call) => {
      calls.add(call);
      call.on('data', take);
      call.on('end', () => finish(call));
      call.on('cancelled', () => calls.delete(call));
      call.on('error', (error) => {
        calls.delete(call);
        deps.metrics?.streamErrors.inc({ stream: 'access_log' });
        deps.log.warn({ err: error }, 'access log stream failed');
      });
    },
    closeAll: () => {
      for (const call of [...calls]) finish(call);
    },
    open: () => calls.size,
  };
}

/** The StreamAccessLogs method's path and codec, with `handle`. */
export function accessLogMethod(handle: (call: AccessLogCall) => void): [string, Method] {
  return generatedMethod<StreamAccessLogsMessage__Output, StreamAccessLogsResponse>(
    'StreamAccessLogs',
    loadAccessLogService().StreamAccessLogs,
    handle,
  );
}
