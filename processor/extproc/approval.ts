// The processor's approval of a request, as Envoy dynamic metadata. The ext_proc
// protocol lets a processor close its stream at any time, and Envoy then goes on
// as if every remaining phase had been allowed: a processor bug that ends the
// stream early would let the request through unchecked. So an RBAC filter after
// ext_proc lets a request on only with this mark (envoy/bootstrap.ts), which
// only the processor can set (clients cannot write dynamic metadata), and only
// in its answer to the last phase, after the body has been checked.
import type { Struct } from '../../protos/generated/google/protobuf/Struct.ts';

/** The dynamic metadata namespace Envoy accepts from the processor. */
export const APPROVAL_NAMESPACE = 'anthropic_gateway';
/** The key under that namespace; its value is `true` once the whole request is allowed. */
export const APPROVAL_KEY = 'approved';

export const APPROVAL_METADATA: Struct = {
  fields: {
    [APPROVAL_NAMESPACE]: {
      structValue: { fields: { [APPROVAL_KEY]: { boolValue: true } } },
    },
  },
};
