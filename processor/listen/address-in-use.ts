// An address the processor must listen on is taken: say which one, and which
// setting moves it, rather than "listen EADDRINUSE". Used for the ext_proc
// address and the metrics endpoint (the launcher does the same for Envoy's).
import { OVERRIDES } from '../config/load.ts';

export class AddressInUseError extends Error {
  readonly address: string;
  /** The setting that chooses it, e.g. `processor.address (or GATEWAY_PROCESSOR_ADDRESS)`. */
  readonly setting: string;
  constructor(address: string, setting: string) {
    super(`${address} is already in use (another gateway running?); choose a free one with ${setting}`);
    this.address = address;
    this.setting = setting;
  }
}

/** The setting at `path` as a user changes it: its name in the file and its environment variable. */
export function settingName(path: readonly [string, string]): string {
  const variable = OVERRIDES.find(([, at]) => at[0] === path[0] && at[1] === path[1])?.[0];
  const name = path.join('.');
  return variable === undefined ? name : `${name} (or ${variable})`;
}

/** Resolves with what `listening` does, or rejects with an AddressInUseError when the address is taken. */
export async function listenOn<T>(
  listening: Promise<T>,
  address: string,
  setting: readonly [string, string],
): Promise<T> {
  try {
    return await listening;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new AddressInUseError(address, settingName(setting));
    }
    throw error;
  }
}
