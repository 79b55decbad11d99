/**
 * Deploy a build: package, connect, lock, stage on every host, then (deployment mode) activate
 * everywhere. Two-phase: nothing goes live until every host holds a verified release. Any
 * failure removes this run's release, records it and releases the lock; `current` never moves to
 * a bad release.
 */
import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { Hashing } from '../artifact/hashing.js'
import { scanArtifact, type Manifest } from '../artifact/manifest.js'
import { releaseId, type RemoteManifest } from '../artifact/plan.js'
import type { RunContext } from '../context.js'
import { Fleet } from '../deploy/fleet.js'
import type { SharedPath } from '../deploy/stage/stage.js'
import type { LockOwner } from '../deploy/trust.js'
import { DeployError, errorMessage } from '../errors.js'
import { formatBytes, plural } from '../format.js'
import type { ShipSettings } from '../inputs.js'
import { mask } from '../mask.js'
import { failedWith, type RunResult } from '../result.js'
import type { ShipRun } from './services.js'

export function lockOwner(context: RunContext, release: string): LockOwner {
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

function sharedKinds(settings: ShipSettings): SharedPath[] {
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

/** Stages a new release on every host; activates it too when `activate`. */
export async function deploy(
  run: ShipRun,
  tested: RunResult,
  activate: boolean
): Promise<RunResult> {
  const { context, log } = run
  const settings = run.settings.ship
  const release = releaseId(context.sha, new Date(), {
    id: context.runId,
    attempt: context.runAttempt
  })
  const tracker = activate && !settings.dryRun ? run.tracker(false) : undefined
  const result = tested
  try {
    checkArtifact(settings)
    // GitHub off the critical path: the deployment is created and the report's look-ups are
    // made while the fleet connects, locks and stages; the switch waits only for the creation.
    tracker?.begin(release, context.sha)
    run.prepareReport(activate && !settings.dryRun)
    // The connects go out first; the artifact is walked while they are set up, and hashed on a
    // worker thread from then on: only files a base release may hold are waited for.
    const opening = Fleet.open({
      settings,
      context,
      log,
      owner: lockOwner(context, release),
      ...(settings.dryRun ? {} : { stage: { release, shared: sharedKinds(settings) } })
    })
    const scanning = scanArtifact({
      root: settings.artifact,
      exclude: settings.exclude,
      sharedPaths: settings.sharedPaths
    }).then(scan => ({ scan, hashing: new Hashing(settings.artifact, scan) }))
    scanning.catch(() => undefined) // awaited below, once the fleet is open
    const fleet = await opening.catch((error: unknown) => {
      void scanning.then(
        ({ hashing }) => hashing.stop(),
        () => undefined
      )
      throw error
    })
    try {
      const { scan, hashes, hashing } = await log.run('package', async () => {
        const { scan, hashing } = await scanning
        const hashes = await hashing.of(fleet.reuseCandidates(scan))
        return {
          value: { scan, hashes, hashing },
          detail: `${plural(scan.files, 'file')}, ${formatBytes(scan.bytes)}`
        }
      })
      if (settings.dryRun) {
        fleet.plan(scan, hashes)
        await fleet.releaseLocks()
        log.skip('stage', 'dry run: nothing sent')
        return {
          ...result,
          status: 'dry-run',
          shipped: fleet.report('dry-run', release, context.sha)
        }
      }
      const complete = (): Promise<Manifest> => hashing.manifest()
      await log.run('stage', async () => {
        const bytes = await fleet.stage({
          root: settings.artifact,
          scan,
          hashes,
          manifest: complete,
          release
        })
        return {
          value: undefined,
          detail: `${release} on ${plural(settings.hosts.length, 'host')}, ${formatBytes(bytes)} sent`
        }
      })
      // The verified release is stored by the same exec that activates it, or that unlocks.
      const store = fleet.storeFor(
        release,
        mask(JSON.stringify(remoteManifest(release, await complete(), context)))
      )
      if (activate) {
        await fleet.activate({ release, sha: context.sha, log, tracker, store })
        await fleet.finish()
      } else {
        log.skip('activate', 'delivery mode: staged, awaiting approval')
        await fleet.finish({ ...store, release })
      }
      const status = activate ? 'deployed' : 'staged'
      return {
        ...result,
        status,
        shipped: fleet.report(status, release, context.sha),
        deploymentId: tracker?.id
      }
    } catch (error: unknown) {
      tracker?.abandon(errorMessage(error))
      await fleet.abandon(release, errorMessage(error))
      return {
        ...failedWith(result, error),
        deploymentId: tracker?.id,
        failedHosts: fleet.failureReport(release)
      }
    } finally {
      fleet.close()
      void scanning.then(
        ({ hashing }) => hashing.stop(),
        () => undefined
      )
    }
  } catch (error: unknown) {
    tracker?.abandon(errorMessage(error))
    return { ...failedWith(result, error), deploymentId: tracker?.id }
  }
}
