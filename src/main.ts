/** The orchestrator: every stage of DESIGN.md §1 is one call from here. */
import * as core from '@actions/core'
import type { OutputName } from './action-io.js'
import { readContext, type RunContext } from './context.js'
import { errorMessage } from './errors.js'
import { awaitApproval, onComment, react } from './handlers/gate.js'
import { decideIntent, isFork } from './gate/intent.js'
import { createOctokit, repoOf, type Octokit } from './github/client.js'
import { gateApi } from './github/gate-api.js'
import { commentOnPullRequest, deliveryHistory, DeploymentRecord } from './github/publish.js'
import { readSettings, type Settings } from './inputs.js'
import { readTestReport } from './report/junit.js'
import type { RunReport, TestSummary } from './report/model.js'
import { computeDora, DORA_WINDOW_DAYS } from './report/dora.js'
import { writeJobSummary } from './report/publish.js'
import { renderReport, stickyMarker } from './report/render.js'
import { StageLog } from './stage-log.js'
import { deny, type Outcome, type Run, type ShipRun } from './run.js'
import { runUserScript } from './build/build-test.js'
import { describeRestore, restoreCache, saveCache, type CacheOutcome } from './build/cache.js'
import { parseTarget, promote, Refusal } from './handlers/promote.js'
import { ship } from './handlers/deploy.js'

async function buildAndTest(settings: Settings, log: StageLog): Promise<void> {
  let restored: CacheOutcome | undefined
  if (settings.cache) {
    restored = await restoreCache(settings.cache, settings.workingDirectory)
    core.info(describeRestore(restored))
  }
  await runUserScript(log, 'build', settings)
  await runUserScript(log, 'test', settings)
  if (settings.cache && restored) {
    core.info(await saveCache(settings.cache, settings.workingDirectory, restored))
  }
}

function withShip(run: Run): ShipRun {
  const ship = run.settings.ship
  if (!ship) throw new Error('This needs `hosts` and the SSH inputs.')
  return { ...run, settings: { ...run.settings, ship } }
}

async function pipeline(run: Run): Promise<void> {
  const { settings, context, log, outcome } = run
  const intent = decideIntent(context.eventName, context.payload, settings)
  switch (intent.kind) {
    case 'skip':
      outcome.status = 'skipped'
      outcome.decision = 'skip'
      outcome.reason = intent.reason
      core.info(`Nothing to do: ${intent.reason}.`)
      return
    case 'deny':
      if (intent.commentId !== undefined) await react(run.api(), intent.commentId, 'confused')
      deny(outcome, intent.reason)
      return
    case 'comment':
      await onComment(intent, withShip(run))
      return
    case 'promote': {
      outcome.decision = intent.rollback ? 'rollback' : 'promote'
      outcome.reason = intent.reason
      outcome.deployment = run.tracker(intent.rollback)
      try {
        const result = await promote({
          settings: withShip(run).settings.ship,
          context,
          log,
          target: parseTarget(intent.target),
          ...(outcome.deployment ? { tracker: outcome.deployment } : {})
        })
        outcome.shipped = result
        outcome.sha = result.sha
        outcome.status = intent.rollback ? 'rolled-back' : result.status
      } catch (error: unknown) {
        if (error instanceof Refusal) return deny(outcome, error.message)
        throw error
      }
      return
    }
    case 'build':
      break
  }
  outcome.decision = intent.decision
  outcome.reason = intent.reason
  await buildAndTest(settings, log)
  if (!intent.ship || !settings.ship) {
    outcome.status = 'tested'
    core.info(`Built and tested: ${intent.reason}.`)
    return
  }
  outcome.deployment = intent.activate ? run.tracker(false) : undefined
  const shipped = await ship({
    settings: settings.ship,
    activate: intent.activate,
    context,
    log,
    ...(outcome.deployment ? { tracker: outcome.deployment } : {})
  })
  outcome.shipped = shipped
  outcome.status = shipped.status
  if (shipped.status === 'staged' && settings.gate.approvalTimeoutMs > 0) {
    await awaitApproval(shipped, withShip(run))
  }
}

function outputsOf(
  outcome: Outcome,
  extra: Partial<Record<OutputName, string>>,
  durationMs: number
): Partial<Record<OutputName, string>> {
  const shipped = outcome.shipped
  return {
    status: outcome.status,
    decision: outcome.decision ?? '',
    reason: outcome.reason ?? '',
    sha: outcome.sha,
    duration: (durationMs / 1000).toFixed(1),
    ...(shipped
      ? {
          release: shipped.release,
          'previous-release': shipped.previousRelease ?? '',
          'bytes-uploaded': String(shipped.bytesUploaded),
          'files-uploaded': String(shipped.filesUploaded),
          'files-reused': String(shipped.filesReused)
        }
      : {}),
    ...(outcome.deployment?.id !== undefined
      ? { 'deployment-id': String(outcome.deployment.id) }
      : {}),
    ...extra
  }
}

async function testSummary(settings: Settings | undefined): Promise<TestSummary | undefined> {
  if (!settings?.report.testReport) return undefined
  const report = await readTestReport(settings.report.testReport, settings.workingDirectory)
  report.warnings.forEach(w => core.warning(w))
  return report.summary
}

function nextStep(outcome: Outcome): RunReport['next'] {
  if (outcome.status === 'staged') return 'deploy'
  if (outcome.status === 'deployed' || outcome.status === 'rolled-back') return 'rollback'
  return undefined
}

/** Job summary always; PR comment and delivery metrics when there is a token to report with. */
async function report(
  run: {
    settings: Settings | undefined
    context: RunContext | undefined
    octokit: Octokit | undefined
    log: StageLog
    outcome: Outcome
  },
  forkPullRequest: boolean
): Promise<Partial<Record<OutputName, string>>> {
  const { settings, context, octokit, outcome } = run
  const environment = settings?.environment ?? 'production'
  const activated = outcome.status === 'deployed' || outcome.status === 'rolled-back'
  const now = new Date()
  const history =
    octokit && context && activated
      ? await deliveryHistory(octokit, repoOf(context), environment, {
          now,
          windowDays: DORA_WINDOW_DAYS
        })
      : undefined
  const dora = history && computeDora(history, now)
  const shipped = outcome.shipped
  const body: RunReport = {
    status: outcome.status,
    decision: outcome.decision,
    reason: outcome.reason,
    environment,
    sha: outcome.sha,
    runUrl: context?.runUrl ?? '',
    repository: context ? `${context.owner}/${context.repo}` : '',
    stages: run.log.records,
    tests: await testSummary(settings).catch(() => undefined),
    transfer: shipped
      ? {
          filesSent: shipped.filesUploaded,
          bytesSent: shipped.bytesUploaded,
          filesReused: shipped.filesReused
        }
      : undefined,
    hosts:
      shipped?.hosts.map(h => ({
        host: h.host,
        release: h.release,
        previousRelease: h.previousRelease
      })) ?? [],
    release: shipped?.release,
    previousRelease: shipped?.previousRelease,
    environmentUrl: settings?.report.environmentUrl,
    next: nextStep(outcome),
    approvalCommand: settings?.gate.approvalCommand ?? '/deploy',
    rollbackCommand: settings?.gate.rollbackCommand ?? '/rollback',
    dora,
    error: outcome.failure
  }
  await writeJobSummary(body)
  const extra: Partial<Record<OutputName, string>> = {}
  if (settings?.report.environmentUrl) extra['environment-url'] = settings.report.environmentUrl
  const wanted =
    settings?.report.comment === 'always' ||
    (settings?.report.comment === 'on-failure' && outcome.failure !== undefined)
  const quietSkip = outcome.decision === 'skip' && context?.eventName === 'issue_comment'
  if (forkPullRequest) {
    core.info(
      'Pull request from a fork: its token is read-only, so no comment and no deployment; see this job summary.'
    )
  } else if (octokit && context && wanted && !quietSkip) {
    const url = await commentOnPullRequest(octokit, repoOf(context), context, {
      marker: stickyMarker(environment),
      body: renderReport(body)
    })
    if (url) extra['comment-url'] = url
  }
  return extra
}

export async function run(): Promise<void> {
  const started = Date.now()
  const log = new StageLog()
  const outcome: Outcome = {
    status: 'failed',
    decision: undefined,
    reason: undefined,
    sha: process.env.GITHUB_SHA ?? '',
    shipped: undefined,
    failure: undefined,
    deployment: undefined
  }
  let settings: Settings | undefined
  let context: RunContext | undefined
  let octokit: Octokit | undefined
  let forkPullRequest = false
  try {
    context = readContext()
    forkPullRequest = context.eventName.startsWith('pull_request') && isFork(context.payload)
    settings = readSettings({ forkPullRequest })
    outcome.sha = context.sha
    const token = settings.githubToken
    octokit = token && !forkPullRequest ? await createOctokit(token) : undefined
    const client = octokit
    const runContext = context
    const runSettings = settings
    await pipeline({
      settings,
      context,
      log,
      outcome,
      octokit,
      api: () => {
        if (!client) throw new Error('`github-token` is empty: the gate needs the GitHub API.')
        return gateApi(client, repoOf(runContext))
      },
      tracker: rollback =>
        client && runSettings.report.deploymentRecord
          ? new DeploymentRecord(client, repoOf(runContext), {
              environment: runSettings.environment,
              environmentUrl: runSettings.report.environmentUrl,
              logUrl: runContext.runUrl,
              rollback
            })
          : undefined
    })
  } catch (error: unknown) {
    outcome.status = 'failed'
    if (error instanceof Error && error.stack) core.debug(error.stack)
    outcome.failure = errorMessage(error)
  } finally {
    let extra: Partial<Record<OutputName, string>> = {}
    try {
      extra = await report({ settings, context, octokit, log, outcome }, forkPullRequest)
    } catch (error: unknown) {
      core.warning(`Reporting failed: ${errorMessage(error)}`)
    }
    const outputs = outputsOf(outcome, extra, Date.now() - started)
    for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value)
    if (outcome.failure) core.setFailed(outcome.failure)
  }
}
