/**
 * Every host of a run: the one module that knows there may be several. Connect (host keys
 * verified) and lock all or none; stage everywhere before anything goes live; switch all or
 * switch back; then store, prune and unlock, or clean up after a failure.
 */
import * as core from '@actions/core'
import type { Manifest, Scan } from '../artifact/manifest.js'
import { planTransfer, reuseCandidates, type TransferPlan } from '../artifact/plan.js'
import type { RunContext } from '../context.js'
import { DeployError, errorMessage, Refusal } from '../errors.js'
import { formatBytes, plural } from '../format.js'
import type { ShipSettings } from '../inputs.js'
import type { StageLog } from '../stage-log.js'
import { openSession, type SshSession } from '../ssh/session.js'
import { describeTarget } from '../ssh/target.js'
import { abandon } from './abandon/abandon.js'
import { activate, type Store } from './activate/activate.js'
import { finish } from './finish/finish.js'
import { waitHealthy } from './health/health.js'
import { batchesOf, settleLimited } from './rollout.js'
import { inspectOnly, lockAndInspect, LockHeld, type Inspection, type Locked } from './lock/lock.js'
import { remotePathArgument } from './program.js'
import { Upload, type SharedPath } from './stage/stage.js'
import {
  describePromoteTarget,
  historyLine,
  resolveOn,
  type ActivationTracker,
  type HostReport,
  type HostStatus,
  type HostTimings,
  type PromoteTarget,
  type ShipResult
} from './outcome.js'
import type { LockOwner } from './trust.js'

/** A lock older than this is taken to be left by a crashed run. */
export const STALE_LOCK_SECONDS = 60 * 60

/** One host of the fleet and what this run did there so far. */
interface Host {
  readonly session: SshSession
  readonly where: string
  readonly inspection: Inspection
  /** The lock exec, waiting to stage this run's release (none for a promotion or a dry run). */
  readonly upload: Upload | undefined
  /** This run holds the host's deploy lock. */
  lockHeld: boolean
  /** This run created the release being deployed here: a failure removes it. */
  ownsRelease: boolean
  /** The release `current` pointed at before this run switched it. */
  replaced: string | undefined
  plan: Pick<TransferPlan, 'filesSent' | 'filesReused' | 'bytesSent'>
  bytesSent: number
  /** Set when the run failed: what became of this host. */
  outcome: HostStatus | undefined
  batch: number | undefined
  readonly timings: HostTimings
}

/** A hook as the programs take it: empty when it is only blanks. */
const hook = (text: string): string => (text.trim() ? text : '')
const seconds = (since: number): number => Math.round((Date.now() - since) / 100) / 10
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** Settles every promise; throws one error listing every failure. */
async function allOrReport<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises)
  const failures = settled.flatMap(s => (s.status === 'rejected' ? [errorMessage(s.reason)] : []))
  if (failures.length > 0) throw new DeployError(failures.join('\n'))
  return settled.flatMap(s => (s.status === 'fulfilled' ? [s.value] : []))
}

export class Fleet {
  private readonly remotePath: string

  private constructor(
    private readonly settings: ShipSettings,
    private readonly context: RunContext,
    private readonly hosts: readonly Host[]
  ) {
    this.remotePath = remotePathArgument(settings.remotePath)
  }

  /**
   * Connects to every host and takes every lock, or fails having changed nothing. With `stage`,
   * each host's staging exec starts as soon as it is connected, alongside its lock.
   */
  static async open(options: {
    settings: ShipSettings
    context: RunContext
    log: StageLog
    owner: LockOwner
    stage?: { release: string; shared: readonly SharedPath[] }
  }): Promise<Fleet> {
    const { settings, log, stage } = options
    const remotePath = remotePathArgument(settings.remotePath)
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
    const warn = (text: string): void => core.warning(text)
    const owner = options.owner
    const lockOne = (session: SshSession): Promise<Locked> =>
      lockAndInspect(session, {
        remotePath,
        owner,
        staleSeconds: STALE_LOCK_SECONDS,
        warn,
        ...(stage
          ? {
              stage: {
                ...stage,
                sha: options.context.sha,
                beforeActivate: hook(settings.beforeActivate),
                afterActivate: hook(settings.afterActivate)
              }
            }
          : {})
      })
    const newHost = (
      session: SshSession,
      inspection: Inspection,
      upload: Upload | undefined
    ): Host => ({
      session,
      where: describeTarget(session.target),
      inspection,
      upload,
      lockHeld: !settings.dryRun,
      ownsRelease: false,
      replaced: inspection.current,
      plan: { filesSent: 0, filesReused: 0, bytesSent: 0 },
      bytesSent: 0,
      outcome: undefined,
      batch: undefined,
      timings: {}
    })
    // The first lock goes out with each login where the server allows (openSession's `first`).
    const early = new Map<SshSession, Promise<Locked>>()
    const lockEarly = settings.dryRun
      ? undefined
      : (session: SshSession): void => {
          const locking = lockOne(session)
          locking.catch(() => undefined) // awaited in the lock stage, or the connect failed
          early.set(session, locking)
        }
    const sessions = await log.run('connect', async () => {
      const settled = await settleLimited(settings.hosts, settings.maxParallel, target =>
        openSession(target, settings.jumpHost, credentials, warn, lockEarly)
      )
      const opened = settled.flatMap(s => (s.status === 'fulfilled' ? [s.value] : []))
      const failures = settled.flatMap(s =>
        s.status === 'rejected' ? [errorMessage(s.reason)] : []
      )
      if (failures.length > 0) {
        // Locks the early lock execs took on the hosts that did connect are given back.
        const locked = await Promise.allSettled(
          opened.map(async session => {
            const taken = await early.get(session)
            return taken ? [newHost(session, taken.inspection, taken.upload)] : []
          })
        )
        const held = locked.flatMap(l => (l.status === 'fulfilled' ? l.value : []))
        await new Fleet(settings, options.context, held).releaseLocks()
        opened.forEach(s => s.close())
        throw new DeployError(failures.join('\n'))
      }
      const keys = settings.insecureSkipHostKeyCheck ? 'NOT verified' : 'verified'
      return { value: opened, detail: `${plural(opened.length, 'host')}, host keys ${keys}` }
    })
    let hosts: Host[] = []
    try {
      await log.run(settings.dryRun ? 'inspect' : 'lock', async () => {
        const lockAll = (): Promise<PromiseSettledResult<Host>[]> =>
          Promise.allSettled(
            sessions.map(async session => {
              if (!settings.dryRun) {
                const started = early.get(session)
                early.delete(session)
                const locked = await (started ?? lockOne(session))
                return newHost(session, locked.inspection, locked.upload)
              }
              // A dry run changes nothing: no directory, no lock; it says what a real run would meet.
              const probe = await inspectOnly(session, { remotePath, warn })
              const where = describeTarget(session.target)
              if (probe.absent)
                core.info(
                  `${where}: dry run: ${remotePath} does not exist yet; a real run creates it.`
                )
              if (probe.heldBy)
                core.warning(
                  `${where}: dry run: the deploy lock is ${probe.heldBy}; a real run would fail on it now.`
                )
              else core.info(`${where}: dry run: the deploy lock is free.`)
              return newHost(session, probe.inspection, undefined)
            })
          )
        const started = Date.now()
        const deadline = started + settings.lockTimeoutSeconds * 1000
        for (let attempt = 0; ; attempt++) {
          const settled = await lockAll()
          hosts = settled.flatMap(s => (s.status === 'fulfilled' ? [s.value] : []))
          const errors = settled.flatMap((s): unknown[] =>
            s.status === 'rejected' ? [s.reason] : []
          )
          if (errors.length === 0) break
          const failures = errors.map(errorMessage).join('\n')
          // Jittered, so that two waiting runs do not keep colliding.
          const wait = Math.min(1000 * 2 ** attempt, 10_000) * (0.75 + Math.random() / 2)
          const held = errors.every(e => e instanceof LockHeld)
          if (!held || settings.dryRun || Date.now() + wait > deadline) {
            const waited =
              held && settings.lockTimeoutSeconds > 0
                ? ` Waited ${seconds(started)} s of \`lock-timeout\` (${settings.lockTimeoutSeconds} s).`
                : ''
            throw new DeployError(failures + waited)
          }
          core.info(`${failures} Waiting (\`lock-timeout\`: ${settings.lockTimeoutSeconds} s).`)
          // Locks taken on the other hosts are given back meanwhile: two runs waiting for each
          // other's hosts would otherwise both time out.
          await new Fleet(settings, options.context, hosts).releaseLocks()
          hosts = []
          await sleep(wait)
        }
        const what = settings.dryRun ? 'inspected (dry run: nothing changed)' : 'lock taken'
        return { value: undefined, detail: `${what} on ${plural(sessions.length, 'host')}` }
      })
    } catch (error: unknown) {
      await new Fleet(settings, options.context, hosts).releaseLocks()
      sessions.forEach(s => s.close())
      throw error
    }
    const fleet = new Fleet(settings, options.context, hosts)
    return fleet
  }

  /**
   * Plans what each host needs of `scan` (logged; `hashes` holds the reuseCandidates' hashes),
   * uploads it and verifies it everywhere against `manifest`.
   */
  async stage(options: {
    root: string
    scan: Scan
    hashes: ReadonlyMap<string, string>
    manifest: () => Promise<Manifest>
    release: string
  }): Promise<number> {
    const { scan, manifest } = options
    const plans = this.plan(scan, options.hashes)
    const indexed = this.hosts.map((host, i) => ({ host, plan: plans[i] }))
    const settled = await settleLimited(
      indexed,
      this.settings.maxParallel,
      async ({ host, plan }) => {
        if (!host.upload || !plan) throw new DeployError(`internal: no upload for ${host.where}`)
        const started = Date.now()
        const staged = await host.upload.run({
          root: options.root,
          scan,
          manifest,
          plan,
          base: host.inspection.base?.release,
          progress: text => core.info(`upload ${text}`),
          warn: text => core.warning(text)
        })
        // Only now is the release this run's: a staging that failed (say, the id was taken)
        // leaves any release of that name alone.
        host.ownsRelease = true
        host.bytesSent = staged.bytes
        host.plan = {
          filesSent: plan.filesSent + staged.resent,
          filesReused: plan.filesReused - staged.resent,
          bytesSent: plan.bytesSent
        }
        host.timings.stage = seconds(started)
      }
    )
    const failures = settled.flatMap(r => (r.status === 'rejected' ? [errorMessage(r.reason)] : []))
    if (failures.length > 0) throw new DeployError(failures.join('\n'))
    return this.hosts.reduce((sum, h) => sum + h.bytesSent, 0)
  }

  /** The files of `scan` some host may reuse from its base release: their hashes decide the plan. */
  reuseCandidates(scan: Scan): string[] {
    return [...new Set(this.hosts.flatMap(h => reuseCandidates(scan, h.inspection.base)))]
  }

  /** What each host would be sent (logged); a dry run stops here. */
  plan(scan: Scan, hashes: ReadonlyMap<string, string>): TransferPlan[] {
    return this.hosts.map(host => {
      const plan = planTransfer(scan, host.inspection.base, hashes)
      host.plan = plan
      core.info(
        `${host.where}: ${plural(plan.filesSent, 'file')} to send (${formatBytes(plan.bytesSent)}), ` +
          `${plan.filesReused} reused from ${host.inspection.base?.release ?? 'nothing (first release)'}; live: ${host.inspection.current ?? 'none'}`
      )
      return plan
    })
  }

  /** The one release every host resolves `target` to; a Refusal otherwise. */
  resolve(target: PromoteTarget): { id: string; sha: string } {
    const found = this.hosts.map(host => ({
      where: host.where,
      release: resolveOn(host.inspection, target)
    }))
    const missing = found.filter(f => f.release === undefined).map(f => f.where)
    if (missing.length > 0) {
      const hint =
        target.kind === 'sha'
          ? ' Was a commit pushed after staging? Only the release staged for the current head can be approved; let the new build stage first.'
          : ''
      throw new Refusal(
        `${describePromoteTarget(target)} is not staged on ${missing.join(', ')}.${hint}`
      )
    }
    const ids = new Set(found.map(f => f.release?.id))
    if (ids.size > 1) {
      throw new Refusal(
        `the hosts disagree on ${describePromoteTarget(target)}: ${found.map(f => `${f.where}: ${f.release?.id ?? '?'}`).join(', ')}`
      )
    }
    const first = found[0]?.release
    if (!first) throw new Refusal('no hosts')
    return first
  }

  /** What a run that staged `release` stores with it: its manifest and history line. */
  storeFor(release: string, manifestJson: string): Store {
    return { manifestJson, history: historyLine('stage', release, this.context) }
  }

  /**
   * Switches every host to `release` of commit `sha` (storing it first when this run staged
   * it); if any fails, switches back the ones already switched, so the fleet never runs two
   * releases. With one host nothing can need switching back, so the same exec prunes and
   * unlocks.
   */
  async activate(options: {
    release: string
    sha: string
    log: StageLog
    tracker: ActivationTracker | undefined
    store?: Store
  }): Promise<void> {
    const { release, sha, tracker } = options
    await tracker?.started(release, sha)
    try {
      await options.log.run('activate', async () => {
        await this.switchAll(release, sha, options.store)
        return {
          value: undefined,
          detail: `current → ${release} on ${plural(this.hosts.length, 'host')}`
        }
      })
    } catch (error: unknown) {
      await tracker?.finished(false, errorMessage(error))
      throw error
    }
    await tracker?.finished(true, `${release} is live on ${plural(this.hosts.length, 'host')}`)
  }

  private async switchAll(release: string, sha: string, store: Store | undefined): Promise<void> {
    const { settings } = this
    const check = settings.healthCheck
    // One host and nothing to check after: the same exec prunes and unlocks.
    const alone = this.hosts.length === 1 && !check
    const commit = { ...this.context, sha }
    const switched: Host[] = []
    const batches = batchesOf(this.hosts, settings.rollout)
    for (const [index, batch] of batches.entries()) {
      if (batches.length > 1) {
        core.info(`Batch ${index + 1} of ${batches.length}: ${batch.map(h => h.where).join(', ')}`)
      }
      const results = await Promise.allSettled(
        batch.map(async host => {
          const started = Date.now()
          host.batch = index + 1
          const history = {
            switched: historyLine('activate', release, commit),
            back: historyLine('rollback-after-failed-hook', release, commit)
          }
          const keep = alone ? settings.keepReleases : undefined
          const commands = host.upload?.commands
          let done: { replaced: string | undefined; pruned: string[] }
          if (commands?.open) {
            // The lock exec that staged the release stores and switches it: no exec of its own.
            if (store) commands.store(store)
            done = await commands.activate({
              release,
              hooks: true,
              history,
              log: text => process.stdout.write(text),
              ...(keep === undefined ? {} : { keep })
            })
            // The health checks are execs of their own (`MaxSessions 1` allows one at a time).
            if (check) await commands.detach()
          } else {
            done = await activate(host.session, {
              remotePath: this.remotePath,
              release,
              sha,
              beforeActivate: settings.beforeActivate,
              afterActivate: settings.afterActivate,
              history,
              log: text => process.stdout.write(text),
              ...(store ? { store } : {}),
              ...(keep === undefined ? {} : { keep })
            })
          }
          host.timings.activate = seconds(started)
          host.replaced = done.replaced
          if (alone) host.lockHeld = false
          this.logPruned(host, done.pruned)
          switched.push(host)
        })
      )
      const failures = results.flatMap((r, i) => {
        if (r.status === 'fulfilled') return []
        const host = batch[i]
        if (host) host.outcome = 'failed'
        return [errorMessage(r.reason)]
      })
      if (failures.length === 0 && check) {
        failures.push(...(await this.checkHealth(batch, release, check)))
      }
      if (failures.length > 0) {
        throw new DeployError(
          failures.join('\n') + (await this.afterFailure(switched, batches, index, sha))
        )
      }
    }
  }

  /** Health-checks every host of a batch; returns one line per unhealthy host. */
  private async checkHealth(
    batch: readonly Host[],
    release: string,
    check: NonNullable<ShipSettings['healthCheck']>
  ): Promise<string[]> {
    const results = await Promise.allSettled(
      batch.map(async host => {
        const started = Date.now()
        try {
          return await waitHealthy(host.session, {
            remotePath: this.remotePath,
            release,
            check,
            log: text => core.info(text)
          })
        } finally {
          host.timings.health = seconds(started)
        }
      })
    )
    return results.flatMap((r, i) => {
      const host = batch[i]
      if (!host) return []
      if (r.status === 'rejected') {
        host.outcome = 'failed'
        return [errorMessage(r.reason)]
      }
      if (r.value.healthy) {
        core.info(`${host.where}: healthy (${host.timings.health ?? 0} s)`)
        return []
      }
      host.outcome = 'failed'
      return [
        `${host.where}: unhealthy: ${r.value.check} failed within ${check.timeoutSeconds} s (\`health-check-timeout\`): ${r.value.saw}`
      ]
    })
  }

  /**
   * After a failed batch: switches back every host already switched (unless
   * `rollback-on-failure` is off) and says what became of every host.
   */
  private async afterFailure(
    switched: readonly Host[],
    batches: readonly Host[][],
    failed: number,
    sha: string
  ): Promise<string> {
    const later = batches.slice(failed + 1).flat()
    for (const host of later) host.outcome = 'not-switched'
    const notes: string[] = []
    if (this.settings.rollbackOnFailure) {
      await Promise.all(switched.map(host => this.switchBack(host, sha)))
      const back = switched.filter(h => h.outcome === 'switched-back').map(h => h.where)
      if (back.length > 0) notes.push(`Switched back to the previous release: ${back.join(', ')}.`)
      const first = switched.filter(h => h.replaced === undefined).map(h => h.where)
      if (first.length > 0) {
        notes.push(`No release ran before on ${first.join(', ')}: the new one stays live there.`)
      }
    } else if (switched.length > 0) {
      for (const host of switched) host.outcome ??= 'left-switched'
      notes.push(
        `\`rollback-on-failure\` is off: ${switched.map(h => h.where).join(', ')} stay on the new release.`
      )
    }
    if (later.length > 0) {
      notes.push(`Never switched (later batches): ${later.map(h => h.where).join(', ')}.`)
    }
    return notes.length > 0 ? `\n${notes.join(' ')}` : ''
  }

  private logPruned(host: Host, pruned: readonly string[]): void {
    if (pruned.length > 0) core.info(`${host.where}: pruned ${pruned.join(', ')}`)
  }

  private async switchBack(host: Host, sha: string): Promise<void> {
    const back = host.replaced
    if (!back) {
      host.outcome = 'left-switched'
      return
    }
    try {
      const line = historyLine('rollback-after-failure', back, { ...this.context, sha })
      const history = { switched: line, back: line }
      const commands = host.upload?.commands
      if (commands?.open) {
        await commands.activate({
          release: back,
          hooks: false,
          history,
          log: text => process.stdout.write(text)
        })
      } else {
        await activate(host.session, {
          remotePath: this.remotePath,
          release: back,
          sha,
          beforeActivate: '',
          afterActivate: '',
          history,
          log: text => process.stdout.write(text)
        })
      }
      host.outcome = 'switched-back'
      core.info(`${host.where}: switched back to ${back}`)
    } catch (error: unknown) {
      host.outcome = 'switch-back-failed'
      core.error(`${host.where}: could not switch back to ${back}: ${errorMessage(error)}`)
    }
  }

  /**
   * Stores the release this run staged when given (a release left for approval), prunes old
   * releases and releases every lock still held.
   */
  async finish(store?: Store & { release: string }): Promise<void> {
    await allOrReport(
      this.held().map(async host => {
        const keep = this.settings.keepReleases
        const commands = host.upload?.commands
        let pruned: string[]
        if (commands?.open) {
          if (store) commands.store(store)
          pruned = await commands.finish(keep)
        } else {
          pruned = await finish(host.session, {
            remotePath: this.remotePath,
            keep,
            ...(store ? { store } : {})
          })
        }
        host.lockHeld = false
        this.logPruned(host, pruned)
      })
    )
  }

  /** Releases every lock this run still holds, changing nothing else. */
  async releaseLocks(): Promise<void> {
    await this.endWaitingUploads()
    await Promise.allSettled(
      this.held().map(async host => {
        const commands = host.upload?.commands
        // A lock exec still serving removes its partial release and unlocks when its stdin ends.
        if (commands?.open) await commands.close()
        else await finish(host.session, { remotePath: this.remotePath })
        host.lockHeld = false
      })
    )
  }

  /**
   * Best effort after a failure: removes this run's partial (and stored, never live) release,
   * records the failure, unlocks. A host that cannot be reached is cleaned by the next run,
   * which removes stale partial releases under the lock.
   */
  async abandon(release: string, why: string): Promise<void> {
    await this.endWaitingUploads()
    await Promise.all(
      this.held().map(async host => {
        try {
          const history = historyLine('failure', release, this.context, {
            host: host.where,
            reason: why.slice(0, 500)
          })
          const commands = host.upload?.commands
          if (commands?.open) await commands.abandon(release, host.ownsRelease, history)
          else {
            await abandon(host.session, {
              remotePath: this.remotePath,
              release,
              remove: host.ownsRelease,
              history
            })
          }
          host.lockHeld = false
        } catch (error: unknown) {
          core.warning(
            `${host.where}: could not clean up after the failure (${errorMessage(error)}); the next deploy removes the partial release.`
          )
        }
      })
    )
  }

  /** What this run did on each host, for the outputs and the report. */
  report(status: ShipResult['status'], release: string, sha: string): ShipResult {
    const hosts = this.hostReports(status, release)
    return {
      status,
      release,
      sha,
      previousRelease: hosts[0]?.previousRelease,
      hosts,
      filesUploaded: hosts.reduce((sum, h) => sum + h.filesSent, 0),
      bytesUploaded: hosts.reduce((sum, h) => sum + h.bytesSent, 0),
      filesReused: hosts.reduce((sum, h) => sum + h.filesReused, 0)
    }
  }

  /** What became of each host of a run that failed (a host nothing happened to: not switched). */
  failureReport(release: string): HostReport[] {
    return this.hostReports('not-switched', release)
  }

  private hostReports(status: HostStatus, release: string): HostReport[] {
    return this.hosts.map(h => ({
      host: h.where,
      release,
      previousRelease: h.replaced,
      status: h.outcome ?? status,
      batch: h.batch,
      timings: { ...h.timings },
      filesSent: h.plan.filesSent,
      bytesSent: h.bytesSent,
      fileBytes: h.plan.bytesSent,
      filesReused: h.plan.filesReused
    }))
  }

  /** Ends uploads that never ran and closes every connection. */
  close(): void {
    for (const host of this.hosts) {
      void host.upload?.cancel()
      host.session.close()
    }
  }

  /**
   * Ends the uploads still waiting for their plan (nothing was staged): each program releases
   * its lock itself, and no second channel is needed while it runs (`MaxSessions 1`).
   */
  private async endWaitingUploads(): Promise<void> {
    await Promise.all(
      this.held().map(async host => {
        if (host.upload && (await host.upload.cancel())) host.lockHeld = false
      })
    )
  }

  private held(): Host[] {
    return this.hosts.filter(h => h.lockHeld)
  }
}
