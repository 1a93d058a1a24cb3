// Which bytes a request target (`:path`, query included) may hold raw. Over
// HTTP/1.1 Envoy refuses a request line with a control byte, space, DEL or a
// byte of 0x80 or more, and its path normalisation refuses `#`; over HTTP/2
// its codec resets a stream whose :path holds a control, space or DEL, but
// lets bytes of 0x80 and more through in the query (in the path, it
// percent-encodes them). Refusing the same set here makes a raw UTF-8 query
// get the same 400 over both protocols, instead of reaching the upstream.

/** Whether every character of `target` (bytes as latin1, as Envoy sends them) is visible ASCII other than `#`. */
export function isWellFormedTarget(target: string): boolean {
  for (let i = 0; i < target.length; i += 1) {
    const code = target.charCodeAt(i);
    // 0x21 `!` to 0x7e `~`: no control, space, DEL or anything beyond ASCII.
    if (code < 0x21 || code > 0x7e || code === 0x23) return false;
  }
  return true;
}
