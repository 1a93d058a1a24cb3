// Another commit's processor, for the benchmarks that measure one against
// this working tree (bench/compare.ts, body-path.ts, hostile-bodies.ts): the
// tree at a git ref exported into a folder beside this one, sharing its
// node_modules and generated protos, and started by that tree's own launcher.
import { execFileSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningProcessor, StartProcessorOptions } from '../../scripts/processor-child.ts';
import { REPO_ROOT } from './systems.ts';

export type StartProcessor = (options: StartProcessorOptions) => Promise<RunningProcessor>;

/**
 * Where a tree keeps the launcher that starts its processor: scripts/ now,
 * processor/child.ts in the commits before it moved there. Both start the
 * processor the same way and export the same startProcessor.
 */
const LAUNCHERS = ['scripts/processor-child.ts', 'processor/child.ts'];

/** Exports the tree at `ref` into `dir` (made if need be) and returns its processor's launcher. */
export async function treeAt(ref: string, dir: string): Promise<StartProcessor> {
  execFileSync('sh', [
    '-c',
    `mkdir -p "${dir}" && git -C "${REPO_ROOT}" archive "${ref}" | tar -x -C "${dir}"`,
  ]);
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  symlinkSync(join(REPO_ROOT, 'protos/generated'), join(dir, 'protos/generated'));
  const launcher = LAUNCHERS.map((path) => join(dir, path)).find((path) => existsSync(path));
  if (launcher === undefined) throw new Error(`${ref} has no processor launcher (${LAUNCHERS.join(' or ')})`);
  return ((await import(launcher)) as { startProcessor: StartProcessor }).startProcessor;
}
