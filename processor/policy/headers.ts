// The request headers as the policy sees them: lower-case names, values as
// strings, in arrival order, repeats kept (a repeated credential is suspicious).
export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

export function headerValues(headers: HeaderList, name: string): string[] {
  const values: string[] = [];
  for (const [key, value] of headers) {
    if (key === name) values.push(value);
  }
  return values;
}

export function firstHeader(headers: HeaderList, name: string): string | undefined {
  for (const [key, value] of headers) {
    if (key === name) return value;
  }
  return undefined;
}
