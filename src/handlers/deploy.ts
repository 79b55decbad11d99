/**
 * Ship: package, connect, lock, stage on every host, then (deployment mode) activate everywhere.
 * Two-phase: nothing goes live until every host holds a verified release. Any failure removes
 * the partial release, records it, and releases the lock; `current` never moves to a bad release.
 */
import * as core from '@actions/core'
import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import type { RunContext } from '../context.js'
import { DeployError, errorMessage } from '../errors.js'
import type { ShipSettings } from '../inputs.js'
import { type StageLog } from '../stage-log.js'
import { formatBytes, plural } from '../format.js'
import * as host from '../deploy/host.js'
import { buildManifest, type Manifest } from '../artifact/manifest.js'
import {
  planTransfer,
  releaseId,
  type RemoteManifest,
  type TransferPlan
} from '../artifact/plan.js'
import type { SshSession } from '../ssh/session.js'
import { describeTarget } from '../ssh/target.js'
import { Fleet, historyLine, type ActivationTracker, type LockedHost } from '../deploy/fleet.js'

export interface HostReport {
  readonly host: string
  readonly release: string
  readonly previousRelease: string | undefined
  readonly filesSent: number
  readonly bytesSent: number
  readonly filesReused: number
}

export interface ShipResult {
  readonly status: 'staged' | 'deployed' | 'rolled-back' | 'dry-run'
  readonly release: string
  readonly previousRelease: string | undefined
  readonly hosts: readonly HostReport[]
  readonly filesUploaded: number
  readonly bytesUploaded: number
  readonly filesReused: number
}

export function lockOwner(context: RunContext, release: string): host.LockOwner {
  return {
    runId: context.runId,
    attempt: context.runAttempt,
    runUrl: context.runUrl,
    actor: context.actor,
    sha: context.sha,
    release,
    started: new Date().toISOString()
  }
}

/** Fails before anything connects when there is nothing to ship. */
function checkArtifact(settings: ShipSettings): void {
  if (!existsSync(settings.artifact) || !statSync(settings.artifact).isDirectory()) {
    throw new DeployError(
      `\`artifact\`: "${settings.artifact}" is not a directory after the build. Point \`artifact\` at the build output (relative to \`working-directory\`).`
    )
  }
}

function packageArtifact(settings: ShipSettings): Promise<Manifest> {
  return buildManifest({
    root: settings.artifact,
    exclude: settings.exclude,
    sharedPaths: settings.sharedPaths
  })
}

function sharedKinds(settings: ShipSettings): { path: string; kind: 'file' | 'dir' }[] {
  return settings.sharedPaths.map(p => {
    const local = path.join(settings.artifact, p)
    return { path: p, kind: existsSync(local) && statSync(local).isFile() ? 'file' : 'dir' }
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

export interface Sent {
  readonly locked: LockedHost
  readonly plan: Pick<TransferPlan, 'filesSent' | 'filesReused'>
  bytesSent: number
}

export function summarise(
  status: ShipResult['status'],
  release: string,
  sent: readonly Sent[]
): ShipResult {
  const hosts = sent.map(s => ({
    host: describeTarget(s.locked.session.target),
    release,
    previousRelease: s.locked.replaced,
    filesSent: s.plan.filesSent,
    bytesSent: s.bytesSent,
    filesReused: s.plan.filesReused
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

/** Stages a new release on every host; activates it too when `activate`. */
export async function ship(options: {
  settings: ShipSettings
  activate: boolean
  context: RunContext
  log: StageLog
  tracker?: ActivationTracker
}): Promise<ShipResult> {
  const { settings, context, log } = options
  const release = releaseId(context.sha, new Date())
  checkArtifact(settings)
  const shared = sharedKinds(settings)
  // Each host's staging exec starts alongside its lock and waits for the plan.
  const stages = new Map<SshSession, host.PendingStage>()
  const cancelStages = (): void => stages.forEach(pending => pending.cancel())
  // Hash the artifact while the connections are being set up (the connects go out first).
  const opening = Fleet.open({
    settings,
    context,
    log,
    owner: lockOwner(context, release),
    onConnected: session => {
      if (!settings.dryRun) {
        const options = { remotePath: settings.remotePath, release, shared }
        stages.set(session, new host.PendingStage(session, options))
      }
    }
  })
  const manifestPromise = packageArtifact(settings)
  manifestPromise.catch(() => undefined)
  let fleet: Fleet
  try {
    fleet = await opening
  } catch (error: unknown) {
    cancelStages()
    throw error
  }
  try {
    const manifest = await log.run('package', async () => {
      const built = await manifestPromise
      return {
        value: built,
        detail: `${plural(built.files, 'file')}, ${formatBytes(built.bytes)}`
      }
    })
    const sent = fleet.hosts.map(locked => {
      const plan = planTransfer(manifest, locked.inspection.base)
      core.info(
        `${describeTarget(locked.session.target)}: ${plural(plan.filesSent, 'file')} to send (${formatBytes(plan.bytesSent)}), ` +
          `${plan.filesReused} reused from ${locked.inspection.base?.release ?? 'nothing (first release)'}; live: ${locked.inspection.current ?? 'none'}`
      )
      return { locked, plan, bytesSent: 0 }
    })

    if (settings.dryRun) {
      await fleet.unlockAll()
      log.skip('stage', 'dry run: nothing sent')
      return summarise('dry-run', release, sent)
    }

    const commit = {
      manifestJson: JSON.stringify(remoteManifest(release, manifest, context)),
      history: historyLine('stage', release, context)
    }
    await log.run('stage', async () => {
      await Promise.all(
        sent.map(async s => {
          const pending = stages.get(s.locked.session)
          if (!pending) throw new DeployError('internal: no staging exec for a host')
          const staged = await pending.run({
            root: settings.artifact,
            manifest,
            plan: s.plan,
            base: s.locked.inspection.base?.release,
            progress: text => core.info(`upload ${text}`),
            warn: text => core.warning(text)
          })
          s.bytesSent = staged.bytes
          s.plan = {
            ...s.plan,
            filesSent: s.plan.filesSent + staged.resent,
            filesReused: s.plan.filesReused - staged.resent
          }
          s.locked.committed = true
        })
      )
      const bytes = sent.reduce((sum, s) => sum + s.bytesSent, 0)
      return {
        value: undefined,
        detail: `${release} on ${plural(sent.length, 'host')}, ${formatBytes(bytes)} sent`
      }
    })

    // The verified release is stored by the same exec that activates it, or that unlocks.
    if (options.activate) {
      await fleet.activate(release, log, options.tracker, commit)
      await fleet.finish()
    } else {
      log.skip('activate', 'delivery mode: staged, awaiting approval')
      await fleet.finish({ ...commit, release })
    }
    return summarise(options.activate ? 'deployed' : 'staged', release, sent)
  } catch (error: unknown) {
    await fleet.abandon(release, errorMessage(error))
    throw error
  } finally {
    cancelStages()
    fleet.close()
  }
}
