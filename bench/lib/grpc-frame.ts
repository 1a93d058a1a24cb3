// gRPC's length-prefixed framing of a message (a byte saying "not
// compressed", four of length, the message), for the benchmark's own clients
// and servers on node:http2 (raw-extproc.ts, raw-floor.ts).

/** `message` framed, ready to write to a gRPC stream. */
export function grpcFrame(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(5 + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  return framed;
}
