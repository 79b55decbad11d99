/**
 * Every host of a run at once: connect (host keys verified), lock, activate all-or-nothing,
 * then prune and unlock, or clean up after a failure. Staging (ship.ts) and promotion
 * (promote.ts) are both built on it.
 */
import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { DeployError, errorMessage } from '../errors.js'
import type { ShipSettings } from '../inputs.js'
import { type StageLog } from '../stage-log.js'
import { plural } from '../format.js'
import * as host from './host.js'
import { abandon, unlock } from './remote-scripts.js'
import { openSession, type SshSession } from '../ssh/session.js'
import { describeTarget } from '../ssh/target.js'

/** A lock older than this is taken to be left by a crashed run. */
export const STALE_LOCK_SECONDS = 60 * 60

/** Told when an activation starts and how it ended (the GitHub deployment record listens). */
export interface ActivationTracker {
  started(release: string, sha: string): Promise<void>
  finished(ok: boolean, detail: string): Promise<void>
}

export interface LockedHost {
  readonly session: SshSession
  readonly inspection: host.Inspection
  /** This run's release is (or may be) on this host, staged or committed: a failure removes it. */
  committed: boolean
  /** The release `current` pointed at before this run switched it. */
  replaced: string | undefined
  pruned: string[]
}

export function historyLine(
  event: string,
  release: string,
  context: RunContext,
  extra: Record<string, string> = {}
): string {
  return JSON.stringify({
    event,
    release,
    sha: context.sha,
    at: new Date().toISOString(),
    by: context.actor,
    run: context.runUrl,
    ...extra
  })
}

/** Settles every promise; throws one error listing every failure. */
async function allOrReport<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises)
  const failures = settled.flatMap(s => (s.status === 'rejected' ? [errorMessage(s.reason)] : []))
  if (failures.length > 0) throw new DeployError(failures.join('\n'))
  return settled.flatMap(s => (s.status === 'fulfilled' ? [s.value] : []))
}

export class Fleet {
  private constructor(
    private readonly settings: ShipSettings,
    private context: RunContext,
    private readonly sessions: readonly SshSession[],
    readonly hosts: LockedHost[]
  ) {}

  /** Connects to every host and takes every lock, or fails having changed nothing. */
  static async open(options: {
    settings: ShipSettings
    context: RunContext
    log: StageLog
    owner: host.LockOwner
    /** Called for each host once connected, before its lock is taken. */
    onConnected?: (session: SshSession) => void
  }): Promise<Fleet> {
    const { settings, log } = options
    if (settings.insecureSkipHostKeyCheck) {
      core.warning(
        '`insecure-skip-host-key-check` is on: host keys are not verified, so the connection can be intercepted.'
      )
    }
    const credentials = {
      ...settings.credentials,
      hostKeys: settings.hostKeys,
      insecureSkipHostKeyCheck: settings.insecureSkipHostKeyCheck,
      timeoutSeconds: settings.timeoutSeconds
    }
    const sessions = await log.run('connect', async () => {
      const settled = await Promise.allSettled(
        settings.hosts.map(target => openSession(target, settings.jumpHost, credentials))
      )
      const opened = settled.flatMap(s => (s.status === 'fulfilled' ? [s.value] : []))
      const failures = settled.flatMap(s =>
        s.status === 'rejected' ? [errorMessage(s.reason)] : []
      )
      if (failures.length > 0) {
        opened.forEach(s => s.close())
        throw new DeployError(failures.join('\n'))
      }
      const keys = settings.insecureSkipHostKeyCheck ? 'NOT verified' : 'verified'
      return { value: opened, detail: `${plural(opened.length, 'host')}, host keys ${keys}` }
    })
    sessions.forEach(session => options.onConnected?.(session))
    const fleet = new Fleet(settings, options.context, sessions, [])
    try {
      await log.run('lock', async () => {
        await allOrReport(
          sessions.map(async session => {
            const inspection = await host.lockAndInspect(session, {
              remotePath: settings.remotePath,
              owner: options.owner,
              staleSeconds: STALE_LOCK_SECONDS,
              log: text => core.warning(text)
            })
            fleet.hosts.push({
              session,
              inspection,
              committed: false,
              replaced: inspection.current,
              pruned: []
            })
          })
        )
        return { value: undefined, detail: `lock taken on ${plural(sessions.length, 'host')}` }
      })
    } catch (error: unknown) {
      await fleet.unlockAll()
      fleet.close()
      throw error
    }
    // Keep the order of the `hosts` input.
    fleet.hosts.sort((a, b) => sessions.indexOf(a.session) - sessions.indexOf(b.session))
    return fleet
  }

  /** Records activations as of `sha` (a promotion activates a commit other than the run's). */
  useCommit(sha: string): void {
    this.context = { ...this.context, sha }
  }

  /**
   * Switches every host to `release` (committing it first when this run staged it); if any
   * fails, switches back the ones already switched, so the fleet never runs two releases.
   */
  async activate(
    release: string,
    log: StageLog,
    tracker?: ActivationTracker,
    commit?: host.Commit
  ): Promise<void> {
    const count = this.hosts.length
    await tracker?.started(release, this.context.sha)
    try {
      await this.switchAll(release, log, commit)
    } catch (error: unknown) {
      await tracker?.finished(false, errorMessage(error))
      throw error
    }
    await tracker?.finished(true, `${release} is live on ${plural(count, 'host')}`)
  }

  private async switchAll(release: string, log: StageLog, commit?: host.Commit): Promise<void> {
    const { settings, context } = this
    // With one host nothing can need switching back, so the same exec prunes and unlocks.
    const alone = this.hosts.length === 1
    await log.run('activate', async () => {
      const switched: LockedHost[] = []
      const results = await Promise.allSettled(
        this.hosts.map(async locked => {
          const done = await host.activate(locked.session, {
            remotePath: settings.remotePath,
            release,
            sha: context.sha,
            beforeActivate: settings.beforeActivate,
            afterActivate: settings.afterActivate,
            history: event => historyLine(event, release, context),
            log: text => process.stdout.write(text),
            ...(commit ? { commit } : {}),
            ...(alone ? { finish: { keep: settings.keepReleases } } : {})
          })
          locked.replaced = done.replaced
          if (alone) this.pruned(locked, done.pruned)
          switched.push(locked)
        })
      )
      const failures = results.flatMap(r =>
        r.status === 'rejected' ? [errorMessage(r.reason)] : []
      )
      if (failures.length > 0) {
        await Promise.all(switched.map(locked => this.switchBack(locked)))
        throw new DeployError(failures.join('\n'))
      }
      const count = this.hosts.length
      if (alone) this.hosts.length = 0 // pruned and unlocked already
      return { value: undefined, detail: `current → ${release} on ${plural(count, 'host')}` }
    })
  }

  private pruned(locked: LockedHost, pruned: string[]): void {
    locked.pruned = pruned
    if (pruned.length > 0)
      core.info(`${describeTarget(locked.session.target)}: pruned ${pruned.join(', ')}`)
  }

  private async switchBack(locked: LockedHost): Promise<void> {
    const back = locked.replaced
    const where = describeTarget(locked.session.target)
    if (!back) return
    try {
      await host.activate(locked.session, {
        remotePath: this.settings.remotePath,
        release: back,
        sha: this.context.sha,
        beforeActivate: '',
        afterActivate: '',
        history: () => historyLine('rollback-after-failure', back, this.context),
        log: text => process.stdout.write(text)
      })
      core.info(`${where}: switched back to ${back}`)
    } catch (error: unknown) {
      core.error(`${where}: could not switch back to ${back}: ${errorMessage(error)}`)
    }
  }

  /**
   * Commits the release this run staged when given (a release left for approval), prunes old
   * releases and releases every lock still held.
   */
  async finish(commit?: host.Commit & { release: string }): Promise<void> {
    await allOrReport(
      this.hosts.map(async locked => {
        const pruned = await host.finish(locked.session, {
          remotePath: this.settings.remotePath,
          keep: this.settings.keepReleases,
          ...(commit ? { commit } : {})
        })
        this.pruned(locked, pruned)
      })
    )
    this.hosts.length = 0
  }

  /** Releases every lock this run holds, changing nothing else. */
  async unlockAll(): Promise<void> {
    await Promise.allSettled(
      this.hosts.map(locked => locked.session.exec(unlock(this.settings.remotePath)))
    )
    this.hosts.length = 0
  }

  /**
   * Best effort after a failure: removes this run's partial (and committed, never live)
   * release, records the failure, unlocks. A host that cannot be reached is cleaned by the
   * next run, which removes stale partial releases under the lock.
   */
  async abandon(release: string, why: string): Promise<void> {
    await Promise.all(
      this.hosts.map(async ({ session, committed }) => {
        try {
          await session.exec(
            abandon({
              remotePath: this.settings.remotePath,
              release,
              removeRelease: committed,
              history: historyLine('failure', release, this.context, {
                host: describeTarget(session.target),
                reason: why.slice(0, 500)
              })
            })
          )
        } catch (error: unknown) {
          core.warning(
            `${describeTarget(session.target)}: could not clean up after the failure (${errorMessage(error)}); the next deploy removes the partial release.`
          )
        }
      })
    )
    this.hosts.length = 0
  }

  close(): void {
    this.sessions.forEach(s => s.close())
  }
}
