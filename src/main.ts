/** The orchestrator: every stage of DESIGN.md §1 is one call from here. */
import * as core from '@actions/core'
import type { OutputName, RunStatus } from './action-io.js'
import { readContext, type RunContext } from './context.js'
import { errorMessage } from './errors.js'
import { readSettings, type Settings } from './inputs.js'
import { StageLog } from './report/stages.js'
import { writeSummary } from './report/summary.js'
import { runUserScript } from './stages/build-test.js'
import { formatBytes } from './ship/host.js'
import { ship } from './stages/ship.js'
import { describeRestore, restoreCache, saveCache, type CacheOutcome } from './stages/cache.js'

export interface Outcome {
  status: RunStatus
  facts: [string, string][]
  outputs: Partial<Record<OutputName, string>>
}

async function buildAndTest(settings: Settings, log: StageLog): Promise<void> {
  let restored: CacheOutcome | undefined
  if (settings.cache) {
    const cache = settings.cache
    restored = await restoreCache(cache, settings.workingDirectory)
    core.info(describeRestore(restored))
  }
  await runUserScript(log, 'build', settings)
  await runUserScript(log, 'test', settings)
  if (settings.cache && restored)
    core.info(await saveCache(settings.cache, settings.workingDirectory, restored))
}

async function pipeline(
  settings: Settings,
  context: RunContext,
  log: StageLog,
  outcome: Outcome
): Promise<void> {
  await buildAndTest(settings, log)
  if (!settings.ship) {
    outcome.status = 'tested'
    core.info('No `hosts` given: build and test only.')
    return
  }
  const shipped = await ship({
    settings: settings.ship,
    mode: settings.mode,
    context,
    log,
    attempt: context.runAttempt
  })
  outcome.status = shipped.status
  outcome.outputs = {
    release: shipped.release,
    'previous-release': shipped.previousRelease ?? '',
    'bytes-uploaded': String(shipped.bytesUploaded),
    'files-uploaded': String(shipped.filesUploaded),
    'files-reused': String(shipped.filesReused)
  }
  outcome.facts = [
    ['Release', shipped.release],
    ['Previous release', shipped.previousRelease ?? 'none'],
    ...shipped.hosts.map((h): [string, string] => [
      `Host ${h.host}`,
      `${h.filesSent} files sent (${formatBytes(h.bytesSent)}), ${h.filesReused} reused`
    ])
  ]
}

export async function run(): Promise<void> {
  const started = Date.now()
  const log = new StageLog()
  const outcome: Outcome = { status: 'failed', facts: [], outputs: {} }
  let sha = process.env.GITHUB_SHA ?? ''
  try {
    const settings = readSettings()
    const context = readContext()
    sha = context.sha
    await pipeline(settings, context, log, outcome)
  } catch (error: unknown) {
    outcome.status = 'failed'
    if (error instanceof Error && error.stack) core.debug(error.stack)
    core.setFailed(errorMessage(error))
  } finally {
    const durationMs = Date.now() - started
    const outputs: Partial<Record<OutputName, string>> = {
      ...outcome.outputs,
      status: outcome.status,
      sha,
      duration: (durationMs / 1000).toFixed(1)
    }
    for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value)
    try {
      await writeSummary({
        status: outcome.status,
        sha,
        durationMs,
        stages: log.records,
        facts: outcome.facts
      })
    } catch (error: unknown) {
      core.warning(`Could not write the job summary: ${errorMessage(error)}`)
    }
  }
}
