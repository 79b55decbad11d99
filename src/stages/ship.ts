/**
 * Ship: package, connect, lock, stage on every host, then (deployment mode) activate everywhere.
 * Two-phase: nothing goes live until every host holds a verified release. Any failure removes
 * the partial release, records it, and releases the lock; `current` never moves to a bad release.
 */
import * as core from '@actions/core'
import { existsSync, statSync } from 'node:fs'
import type { RunContext } from '../context.js'
import { DeployError, errorMessage } from '../errors.js'
import type { Mode, ShipSettings } from '../inputs.js'
import type { StageLog } from '../report/stages.js'
import * as host from '../ship/host.js'
import { buildManifest, type Manifest } from '../ship/manifest.js'
import { planTransfer, releaseId, type RemoteManifest, type TransferPlan } from '../ship/plan.js'
import { abandon, unlock } from '../ship/remote-scripts.js'
import { openSession, type SshSession } from '../ssh/session.js'
import { describeTarget } from '../ssh/target.js'

/** A lock older than this is taken to be left by a crashed run. */
export const STALE_LOCK_SECONDS = 60 * 60

export interface HostReport {
  readonly host: string
  readonly release: string
  readonly previousRelease: string | undefined
  readonly filesSent: number
  readonly bytesSent: number
  readonly filesReused: number
  readonly pruned: readonly string[]
}

export interface ShipResult {
  readonly status: 'staged' | 'deployed' | 'dry-run'
  readonly release: string
  readonly previousRelease: string | undefined
  readonly hosts: readonly HostReport[]
  readonly filesUploaded: number
  readonly bytesUploaded: number
  readonly filesReused: number
}

interface HostRun {
  readonly session: SshSession
  readonly inspection: host.Inspection
  readonly plan: TransferPlan
  bytesSent: number
  previousRelease: string | undefined
  pruned: string[]
}

function historyLine(
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

async function packageArtifact(settings: ShipSettings): Promise<Manifest> {
  if (!existsSync(settings.artifact) || !statSync(settings.artifact).isDirectory()) {
    throw new DeployError(
      `\`artifact\`: "${settings.artifact}" is not a directory after the build. Point \`artifact\` at the build output (relative to \`working-directory\`).`
    )
  }
  return buildManifest({
    root: settings.artifact,
    exclude: settings.exclude,
    sharedPaths: settings.sharedPaths
  })
}

/** Opens every session at once; if any fails, closes the others and reports every failure. */
async function connectAll(settings: ShipSettings): Promise<SshSession[]> {
  const credentials = {
    ...settings.credentials,
    hostKeys: settings.hostKeys,
    insecureSkipHostKeyCheck: settings.insecureSkipHostKeyCheck,
    timeoutSeconds: settings.timeoutSeconds
  }
  if (settings.insecureSkipHostKeyCheck) {
    core.warning(
      '`insecure-skip-host-key-check` is on: host keys are not verified, so the connection can be intercepted.'
    )
  }
  const settled = await Promise.allSettled(
    settings.hosts.map(target => openSession(target, settings.jumpHost, credentials))
  )
  const sessions = settled.flatMap(s => (s.status === 'fulfilled' ? [s.value] : []))
  const failures = settled.flatMap(s => (s.status === 'rejected' ? [errorMessage(s.reason)] : []))
  if (failures.length > 0) {
    sessions.forEach(s => s.close())
    throw new DeployError(failures.join('\n'))
  }
  return sessions
}

function sharedKinds(
  settings: ShipSettings,
  root: string
): { path: string; kind: 'file' | 'dir' }[] {
  return settings.sharedPaths.map(p => {
    const local = `${root}/${p}`
    const isFile = existsSync(local) && statSync(local).isFile()
    return { path: p, kind: isFile ? 'file' : 'dir' }
  })
}

function remoteManifest(release: string, manifest: Manifest, context: RunContext): RemoteManifest {
  return {
    version: 1,
    release,
    sha: context.sha,
    created: new Date().toISOString(),
    by: context.actor,
    run: context.runUrl,
    entries: manifest.entries
  }
}

/** Best effort on every host after a failure: remove this run's partial release, record, unlock. */
async function abandonAll(
  runs: readonly HostSessionRun[],
  settings: ShipSettings,
  release: string,
  why: string,
  context: RunContext
): Promise<void> {
  await Promise.all(
    runs.map(async ({ session, committed }) => {
      try {
        await session.exec(
          abandon({
            remotePath: settings.remotePath,
            release,
            removeRelease: committed,
            history: historyLine('failure', release, context, {
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
}

interface HostSessionRun {
  readonly session: SshSession
  committed: boolean
}

export async function ship(options: {
  settings: ShipSettings
  mode: Mode
  context: RunContext
  log: StageLog
  attempt: number
}): Promise<ShipResult> {
  const { settings, context, log } = options
  const release = releaseId(context.sha, new Date())
  const owner: host.LockOwner = {
    runId: context.runId,
    attempt: options.attempt,
    runUrl: context.runUrl,
    actor: context.actor,
    sha: context.sha,
    release,
    started: new Date().toISOString()
  }
  // Hash the artifact while the connections are being set up.
  const manifestPromise = packageArtifact(settings)
  manifestPromise.catch(() => undefined)
  const sessions = await log.run('connect', async () => {
    const opened = await connectAll(settings)
    return {
      value: opened,
      detail: `${opened.length} host${opened.length === 1 ? '' : 's'}, host keys ${settings.insecureSkipHostKeyCheck ? 'NOT verified' : 'verified'}`
    }
  })
  const locked: HostSessionRun[] = []
  try {
    const manifest = await log.run('package', async () => {
      const built = await manifestPromise
      return { value: built, detail: `${built.files} files, ${host.formatBytes(built.bytes)}` }
    })
    const runs = await log.run('lock', async () => {
      const inspected = await Promise.allSettled(
        sessions.map(async session => {
          const inspection = await host.lockAndInspect(session, {
            remotePath: settings.remotePath,
            owner,
            staleSeconds: STALE_LOCK_SECONDS,
            log: text => core.warning(text)
          })
          locked.push({ session, committed: false })
          return { session, inspection }
        })
      )
      const failures = inspected.flatMap(s =>
        s.status === 'rejected' ? [errorMessage(s.reason)] : []
      )
      if (failures.length > 0) throw new DeployError(failures.join('\n'))
      const value = inspected.flatMap(s => (s.status === 'fulfilled' ? [s.value] : []))
      return { value, detail: `lock taken on ${value.length} host${value.length === 1 ? '' : 's'}` }
    })
    const hostRuns: HostRun[] = runs.map(({ session, inspection }) => ({
      session,
      inspection,
      plan: planTransfer(manifest, inspection.base),
      bytesSent: 0,
      previousRelease: inspection.current,
      pruned: []
    }))
    for (const run of hostRuns) {
      core.info(
        `${describeTarget(run.session.target)}: ${run.plan.filesSent} files to send (${host.formatBytes(run.plan.bytesSent)}), ` +
          `${run.plan.filesReused} reused from ${run.inspection.base?.release ?? 'nothing (first release)'}; live: ${run.inspection.current ?? 'none'}`
      )
    }

    if (settings.dryRun) {
      await Promise.all(hostRuns.map(r => r.session.exec(unlock(settings.remotePath))))
      locked.length = 0
      log.skip('stage', 'dry run: nothing sent')
      return summarise('dry-run', release, hostRuns)
    }

    await log.run('stage', async () => {
      const shared = sharedKinds(settings, settings.artifact)
      const manifestJson = JSON.stringify(remoteManifest(release, manifest, context))
      await Promise.all(
        hostRuns.map(async run => {
          run.bytesSent = await host.stage(run.session, {
            remotePath: settings.remotePath,
            release,
            root: settings.artifact,
            manifest,
            plan: run.plan,
            base: run.inspection.base?.release,
            shared,
            manifestJson,
            history: historyLine('stage', release, context),
            progress: text => core.info(`upload ${text}`)
          })
          const entry = locked.find(l => l.session === run.session)
          if (entry) entry.committed = true
        })
      )
      const sent = hostRuns.reduce((sum, r) => sum + r.bytesSent, 0)
      return {
        value: undefined,
        detail: `${release} on ${hostRuns.length} host${hostRuns.length === 1 ? '' : 's'}, ${host.formatBytes(sent)} sent`
      }
    })

    let status: ShipResult['status'] = 'staged'
    if (options.mode === 'deployment') {
      await activateAll(hostRuns, { settings, release, context, log })
      status = 'deployed'
    } else {
      log.skip('activate', 'delivery mode: staged, awaiting approval')
    }
    await Promise.all(
      hostRuns.map(async run => {
        run.pruned = await host.pruneAndUnlock(
          run.session,
          settings.remotePath,
          settings.keepReleases
        )
        if (run.pruned.length > 0)
          core.info(`${describeTarget(run.session.target)}: pruned ${run.pruned.join(', ')}`)
      })
    )
    locked.length = 0
    return summarise(status, release, hostRuns)
  } catch (error: unknown) {
    if (locked.length > 0) await abandonAll(locked, settings, release, errorMessage(error), context)
    throw error
  } finally {
    sessions.forEach(s => s.close())
  }
}

/** Switches every host; if one fails, switches back the ones already switched. */
async function activateAll(
  hostRuns: HostRun[],
  options: { settings: ShipSettings; release: string; context: RunContext; log: StageLog }
): Promise<void> {
  const { settings, release, context } = options
  await options.log.run('activate', async () => {
    const switched: HostRun[] = []
    const results = await Promise.allSettled(
      hostRuns.map(async run => {
        run.previousRelease = await host.activate(run.session, {
          remotePath: settings.remotePath,
          release,
          sha: context.sha,
          beforeActivate: settings.beforeActivate,
          afterActivate: settings.afterActivate,
          history: event => historyLine(event, release, context),
          log: text => process.stdout.write(text)
        })
        switched.push(run)
      })
    )
    const failures = results.flatMap(r => (r.status === 'rejected' ? [errorMessage(r.reason)] : []))
    if (failures.length > 0) {
      await Promise.all(
        switched.map(async run => {
          const back = run.previousRelease
          if (!back) return
          try {
            await host.activate(run.session, {
              remotePath: settings.remotePath,
              release: back,
              sha: context.sha,
              beforeActivate: '',
              afterActivate: '',
              history: event => historyLine(`rollback-${event}`, back, context),
              log: text => process.stdout.write(text)
            })
            core.info(`${describeTarget(run.session.target)}: switched back to ${back}`)
          } catch (error: unknown) {
            core.error(
              `${describeTarget(run.session.target)}: could not switch back to ${back}: ${errorMessage(error)}`
            )
          }
        })
      )
      throw new DeployError(failures.join('\n'))
    }
    return {
      value: undefined,
      detail: `current → ${release} on ${hostRuns.length} host${hostRuns.length === 1 ? '' : 's'}`
    }
  })
}

function summarise(
  status: ShipResult['status'],
  release: string,
  runs: readonly HostRun[]
): ShipResult {
  const hosts = runs.map(run => ({
    host: describeTarget(run.session.target),
    release,
    previousRelease: run.previousRelease,
    filesSent: run.plan.filesSent,
    bytesSent: run.bytesSent,
    filesReused: run.plan.filesReused,
    pruned: run.pruned
  }))
  return {
    status,
    release,
    previousRelease: hosts[0]?.previousRelease,
    hosts,
    filesUploaded: hosts.reduce((sum, h) => sum + h.filesSent, 0),
    bytesUploaded: hosts.reduce((sum, h) => sum + h.bytesSent, 0),
    filesReused: hosts.reduce((sum, h) => sum + h.filesReused, 0)
  }
}
