// Summarises a V8 .cpuprofile: self time by module (our code, grpc-js,
// protobufjs, pino, Node's internals, ...) and by function.

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly hitCount?: number;
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

/** Which part of the program a frame belongs to. */
export function moduleOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'garbage collector';
    if (functionName === '(idle)' || functionName === '(program)') return functionName;
    return 'native';
  }
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (packageMatch) return packageMatch[1] as string;
  if (url.startsWith('node:'))
    return `node:${url
      .slice(5)
      .split('/')[0]
      ?.replace(/^internal$/, 'internal')}`;
  const ours = /\/(processor|protos|envoy)\/.*$/.exec(url);
  if (ours) return `ours: ${ours[0].slice(1)}`;
  return url;
}

export function summarizeProfile(profile: CpuProfile, top: number, requests: number): string {
  // Self time per node: the time between samples attributed to that node.
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i + 1] ?? 0));
  }
  const byModule = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    const module = moduleOf(node.callFrame);
    if (module === '(idle)') continue;
    busy += us;
    byModule.set(module, (byModule.get(module) ?? 0) + us);
    const name = `${node.callFrame.functionName || '(anonymous)'} ${module}:${node.callFrame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  }
  const wall = profile.endTime - profile.startTime;
  const lines = [
    `profile: ${(wall / 1e6).toFixed(1)} s wall, ${(busy / 1e6).toFixed(2)} s busy (${((100 * busy) / wall).toFixed(0)}%)` +
      (requests > 0
        ? `, ${requests} requests measured, ${(busy / 1000 / requests).toFixed(3)} ms busy per request`
        : ''),
    '',
    'self time by module:',
  ];
  const share = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  for (const [module, us] of [...byModule].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${share(us)}  ${module}`);
  }
  lines.push('', 'self time by function:');
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${share(us)}  ${name}`);
  }
  return lines.join('\n');
}
