/** The finish operation on one host: store a staged release, prune, release the lock. */
import { readFileSync } from 'node:fs'
import type { SshSession } from '../../ssh/session.js'
import { MARK, program, runChecked } from '../program.js'

const FINISH = program('finish', readFileSync(new URL('./finish.sh', import.meta.url), 'utf8'))

/** The release ids a program reported as pruned. */
export function prunedIn(output: string): string[] {
  return [...output.matchAll(new RegExp(`^${MARK.GD_PRUNED} (\\S+)$`, 'gm'))].map(m => m[1] ?? '')
}

/**
 * Stores `store.release` when given (a release left for approval), prunes to `keep` releases
 * when given, and releases the lock, in one exec. Returns the pruned release ids.
 */
export async function finish(
  session: SshSession,
  options: {
    remotePath: string
    store?: { release: string; manifestJson: string; history: string }
    keep?: number
  }
): Promise<string[]> {
  const { store } = options
  const what = store ? 'storing the release' : options.keep ? 'pruning old releases' : 'unlocking'
  const out = await runChecked(
    session,
    FINISH,
    what,
    [
      options.remotePath,
      store?.release ?? '',
      store?.history ?? '',
      options.keep === undefined ? '' : String(options.keep)
    ],
    store ? { stdin: store.manifestJson } : {}
  )
  return prunedIn(out.toString('utf8'))
}
