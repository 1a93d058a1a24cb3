// The processor's approval of a request, as Envoy dynamic metadata. The ext_proc
// protocol lets a processor close its stream at any time, and Envoy then goes on
// as if every remaining phase had been allowed: a processor bug that ends the
// stream early would let the request through unchecked. So an RBAC filter after
// ext_proc lets a request on only with this mark (envoy/bootstrap/clusters.ts), which
// only the processor can set (clients cannot write dynamic metadata), and only
// in its answer to the last phase, after the body has been checked. It rides in
// the namespace of the request's facts (metadata.ts), the one namespace Envoy
// accepts from the processor.
import type { Struct } from '../../protos/generated/google/protobuf/Struct.ts';
import { APPROVAL_KEY, METADATA_NAMESPACE } from '../contract/names.ts';

/** `metadata` (a ProcessingResponse's dynamic_metadata) with the approval mark added. */
export function withApproval(metadata: Struct): Struct {
  const namespace = metadata.fields?.[METADATA_NAMESPACE]?.structValue?.fields ?? {};
  return {
    fields: {
      ...metadata.fields,
      [METADATA_NAMESPACE]: {
        structValue: { fields: { ...namespace, [APPROVAL_KEY]: { boolValue: true } } },
      },
    },
  };
}
