/** The abandon operation on one host: clean up after a failure and release the lock. */
import { readFileSync } from 'node:fs'
import type { SshSession } from '../../ssh/session.js'
import { program, runChecked } from '../program.js'

/** Defines `abandon_release`, which the abandon program and a serving lock exec run. */
export const ABANDON_RELEASE = readFileSync(new URL('./abandon.sh', import.meta.url), 'utf8')
const ABANDON = program(
  'abandon',
  ABANDON_RELEASE,
  readFileSync(new URL('./abandon-program.sh', import.meta.url), 'utf8')
)

/**
 * Removes this run's partial release (and its stored, never activated release when `remove`;
 * never the live one), records the failure, and releases the lock.
 */
export async function abandon(
  session: SshSession,
  options: { remotePath: string; release: string; remove: boolean; history: string }
): Promise<void> {
  await runChecked(session, ABANDON, 'cleaning up after the failure', [
    options.remotePath,
    options.release,
    options.remove ? 'remove' : 'keep',
    options.history
  ])
}
