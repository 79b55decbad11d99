/** The activate operation on one host: switch `current` between the hooks, in one exec. */
import { readFileSync } from 'node:fs'
import { DeployError } from '../../errors.js'
import type { SshSession } from '../../ssh/session.js'
import { describeTarget } from '../../ssh/target.js'
import { EXIT, MARK, program, runProgram } from '../program.js'
import { releaseOrUndefined } from '../trust.js'
import { prunedIn } from '../finish/finish.js'

/** Defines `activate_release`, which the activate program and a serving lock exec run. */
export const ACTIVATE_RELEASE = readFileSync(new URL('./activate.sh', import.meta.url), 'utf8')
const ACTIVATE = program(
  'activate',
  ACTIVATE_RELEASE,
  readFileSync(new URL('./activate-program.sh', import.meta.url), 'utf8')
)

/** A verified `<id>.partial` to store as a release: its manifest and history line. */
export interface Store {
  readonly manifestJson: string
  readonly history: string
}

export interface Activation {
  readonly remotePath: string
  readonly release: string
  readonly sha: string
  readonly beforeActivate: string
  readonly afterActivate: string
  /** History lines for the switch and for switching back after a failed after-activate. */
  readonly history: { readonly switched: string; readonly back: string }
  /** Store this run's staged release first (saves an exec). */
  readonly store?: Store
  /** Prune to this many releases and unlock after a good switch (saves an exec). */
  readonly keep?: number
  /** Hook output, live. */
  readonly log: (text: string) => void
}

/**
 * Switches `current` to `release` with the hooks. Returns the release it replaced and the
 * releases pruned; fails naming what went wrong (and that `current` is as it was).
 */
export async function activate(
  session: SshSession,
  options: Activation
): Promise<{ replaced: string | undefined; pruned: string[] }> {
  const result = await runProgram(
    session,
    ACTIVATE,
    [
      options.remotePath,
      options.release,
      options.sha,
      options.beforeActivate.trim() ? options.beforeActivate : '',
      options.afterActivate.trim() ? options.afterActivate : '',
      options.store?.history ?? '',
      options.history.switched,
      options.history.back,
      options.keep === undefined ? '' : String(options.keep)
    ],
    {
      onStderr: options.log,
      ...(options.store ? { stdin: options.store.manifestJson } : {})
    }
  )
  return activationOutcome(session, options.release, result.code, result.output, result.error)
}

/**
 * What an activation's output says: the release it replaced and the releases pruned; or an error
 * naming what went wrong (and that `current` is as it was).
 */
export function activationOutcome(
  session: SshSession,
  release: string,
  code: number,
  output: Buffer,
  error: string
): { replaced: string | undefined; pruned: string[] } {
  const text = output.toString('utf8')
  const replaced = releaseOrUndefined(
    new RegExp(`^${MARK.GD_REPLACED} (\\S*)$`, 'm').exec(text)?.[1]
  )
  const reasons: Record<number, string> = {
    [EXIT.EXIT_NOT_STAGED]: `release ${release} is not staged there`,
    [EXIT.EXIT_BEFORE_ACTIVATE]: '`before-activate` failed; `current` was not switched',
    [EXIT.EXIT_AFTER_ACTIVATE]: '`after-activate` failed; `current` was put back as it was'
  }
  if (code !== 0) {
    // A failed hook's last lines (it writes to stderr) are what the reader needs to fix it.
    const hook = code === EXIT.EXIT_BEFORE_ACTIVATE || code === EXIT.EXIT_AFTER_ACTIVATE
    const said = hook && error !== 'no error output' ? `. Its output ended:\n${error}` : '.'
    throw new DeployError(
      `${describeTarget(session.target)}: ${reasons[code] ?? `activation failed (exit ${code}): ${error}`}${said}`
    )
  }
  return { replaced, pruned: prunedIn(text) }
}
