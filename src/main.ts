/**
 * The orchestrator: the whole flow of DESIGN.md §1, one call per step. Handlers return one
 * RunResult; this module alone turns it into outputs, the job summary and the PR report.
 */
import * as core from '@actions/core'
import type { OutputName } from './action-io.js'
import { readContext, type RunContext } from './context.js'
import type { HostReport } from './deploy/outcome.js'
import { errorMessage } from './errors.js'
import { createOctokit, repoOf } from './github/client.js'
import { gateApi } from './github/gate-api.js'
import { GitHubReporter } from './github/reporter.js'
import { buildAndTest } from './handlers/build-test.js'
import { deploy } from './handlers/deploy.js'
import { decide, isFork } from './handlers/decide.js'
import { awaitApproval, onComment, react } from './handlers/gate.js'
import { promote } from './handlers/promote.js'
import { startResult, withShip, type Run } from './handlers/services.js'
import { readSettings, type Settings } from './inputs.js'
import { readTestReport } from './report/junit.js'
import { computeDora, DORA_WINDOW_DAYS } from './report/dora.js'
import type { RunReport, TestSummary } from './report/model.js'
import { writeJobSummary } from './report/publish.js'
import { renderReport, stickyMarker } from './report/render.js'
import { mask, maskDeep } from './mask.js'
import { denied, type RunResult } from './result.js'
import { StageLog } from './stage-log.js'

/** What the event and inputs ask for, carried out: build, test, stage, gate, activate. */
async function handle(run: Run): Promise<RunResult> {
  const start = startResult(run)
  const intent = decide(run.context.eventName, run.context.payload, run.settings)
  switch (intent.kind) {
    case 'skip':
      core.info(`Nothing to do: ${intent.reason}.`)
      return { ...start, status: 'skipped', decision: 'skip', reason: intent.reason }
    case 'deny':
      if (intent.commentId !== undefined) await react(run.api(), intent.commentId, 'confused')
      return denied(start, intent.reason)
    case 'comment':
      return onComment(withShip(run), start, intent)
    case 'promote':
      return promote(withShip(run), start, intent)
    case 'build': {
      // The comment's look-ups go out now and overlap the build and the test.
      run.prepareReport(false)
      const tested = await buildAndTest(run, intent)
      if (tested.status !== 'tested') return tested
      if (!intent.ship || !run.settings.ship) {
        core.info(`Built and tested: ${intent.reason}.`)
        return tested
      }
      const shipped = await deploy(withShip(run), tested, intent.activate)
      if (shipped.status !== 'staged' || run.settings.gate.approvalTimeoutMs <= 0) return shipped
      return awaitApproval(withShip(run), shipped)
    }
  }
}

/** One host in the `hosts` output: every field present (null when unknown). */
function hostOutput(host: HostReport): Record<string, unknown> {
  return {
    host: host.host,
    release: host.release,
    previousRelease: host.previousRelease ?? null,
    status: host.status,
    batch: host.batch ?? null,
    timings: host.timings,
    filesSent: host.filesSent,
    bytesSent: host.bytesSent,
    filesReused: host.filesReused
  }
}

function outputsOf(
  result: RunResult,
  extra: Partial<Record<OutputName, string>>,
  durationMs: number
): Partial<Record<OutputName, string>> {
  const shipped = result.shipped
  return {
    status: result.status,
    decision: result.decision ?? '',
    reason: result.reason ?? '',
    sha: result.sha,
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
    ...(shipped || result.failedHosts
      ? { hosts: JSON.stringify((shipped?.hosts ?? result.failedHosts ?? []).map(hostOutput)) }
      : {}),
    ...(result.deploymentId !== undefined ? { 'deployment-id': String(result.deploymentId) } : {}),
    ...extra
  }
}

async function testSummary(settings: Settings | undefined): Promise<TestSummary | undefined> {
  if (!settings?.report.testReport) return undefined
  const report = await readTestReport(settings.report.testReport, settings.workingDirectory)
  report.warnings.forEach(w => core.warning(w))
  return report.summary
}

function nextStep(result: RunResult): RunReport['next'] {
  if (result.status === 'staged') return 'deploy'
  if (result.status === 'deployed' || result.status === 'rolled-back') return 'rollback'
  return undefined
}

/** Whether the run's result goes to the pull request as a comment. */
function commentWanted(
  settings: Settings | undefined,
  context: RunContext | undefined,
  result: RunResult
): boolean {
  const wanted =
    settings?.report.comment === 'always' ||
    (settings?.report.comment === 'on-failure' && result.failure !== undefined)
  const quietSkip = result.decision === 'skip' && context?.eventName === 'issue_comment'
  return wanted && !quietSkip
}

/**
 * Job summary always; PR comment and delivery metrics when there is a token to report with. The
 * GitHub calls were started while the deploy ran (github/reporter.ts); what is left goes out at
 * once: the comment's write next to the final deployment status.
 */
async function report(
  run: {
    settings: Settings | undefined
    context: RunContext | undefined
    github: GitHubReporter | undefined
    log: StageLog
    result: RunResult
  },
  forkPullRequest: boolean
): Promise<Partial<Record<OutputName, string>>> {
  const { settings, context, github, result } = run
  const environment = settings?.environment ?? 'production'
  const activated = result.status === 'deployed' || result.status === 'rolled-back'
  const history = github && activated ? await github.deliveryHistory() : undefined
  const dora = history && computeDora(history, new Date())
  const shipped = result.shipped
  const wantsComment = github !== undefined && commentWanted(settings, context, result)
  // Where the next step is taken: on the pull request when there is one, else by the workflow's
  // inputs (a push or a dispatch that no pull request is known for).
  const pullNumber = wantsComment ? await github.comment.pullRequest() : undefined
  const onPullRequest =
    context !== undefined &&
    (context.eventName.startsWith('pull_request') || context.eventName === 'issue_comment')
  // Every text of the report is masked before it is rendered: escaping could split a secret.
  const body = maskDeep<RunReport>({
    status: result.status,
    decision: result.decision,
    reason: result.reason,
    environment,
    sha: result.sha,
    runUrl: context?.runUrl ?? '',
    repository: context ? `${context.owner}/${context.repo}` : '',
    stages: run.log.records,
    tests: await testSummary(settings).catch(() => undefined),
    transfer: shipped
      ? {
          filesSent: shipped.filesUploaded,
          bytesSent: shipped.hosts.reduce((sum, h) => sum + h.fileBytes, 0),
          filesReused: shipped.filesReused
        }
      : undefined,
    hosts: (shipped?.hosts ?? result.failedHosts ?? []).map(h => ({
      host: h.host,
      release: h.release,
      previousRelease: h.previousRelease,
      ...(shipped ? {} : { status: h.status }),
      ...(h.batch !== undefined ? { batch: h.batch } : {}),
      filesSent: h.filesSent,
      bytesSent: h.fileBytes,
      filesReused: h.filesReused,
      timings: h.timings
    })),
    release: shipped?.release,
    previousRelease: shipped?.previousRelease,
    environmentUrl: settings?.report.environmentUrl,
    next: nextStep(result),
    approvalCommand: settings?.gate.approvalCommand ?? '/deploy',
    rollbackCommand: settings?.gate.rollbackCommand ?? '/rollback',
    ...(pullNumber !== undefined
      ? { pullRequest: pullNumber }
      : onPullRequest
        ? {}
        : { pullRequest: 'none' as const }),
    dora,
    error: result.failure
  })
  const extra: Partial<Record<OutputName, string>> = {}
  if (settings?.report.environmentUrl) extra['environment-url'] = settings.report.environmentUrl
  if (forkPullRequest) {
    core.info(
      'Pull request from a fork: its token is read-only, so no comment and no deployment; see this job summary.'
    )
  }
  const comment = wantsComment ? github.comment.write(renderReport(body)) : undefined
  const [url] = await Promise.all([comment, writeJobSummary(body), github?.settled()])
  if (url) extra['comment-url'] = url
  return extra
}

export async function run(): Promise<void> {
  const started = Date.now()
  const log = new StageLog()
  let result: RunResult = {
    status: 'failed',
    decision: undefined,
    reason: undefined,
    sha: process.env.GITHUB_SHA ?? '',
    shipped: undefined,
    deploymentId: undefined,
    failure: undefined
  }
  let settings: Settings | undefined
  let context: RunContext | undefined
  let github: GitHubReporter | undefined
  let forkPullRequest = false
  try {
    context = readContext()
    result = { ...result, sha: context.sha }
    forkPullRequest = context.eventName.startsWith('pull_request') && isFork(context.payload)
    settings = readSettings({ forkPullRequest })
    const token = settings.githubToken
    const octokit = token && !forkPullRequest ? await createOctokit(token) : undefined
    const repo = repoOf(context)
    const reporter = octokit
      ? new GitHubReporter(octokit, repo, {
          environment: settings.environment,
          environmentUrl: settings.report.environmentUrl,
          logUrl: context.runUrl,
          deploymentRecord: settings.report.deploymentRecord,
          pull: context,
          marker: stickyMarker(settings.environment),
          windowDays: DORA_WINDOW_DAYS
        })
      : undefined
    github = reporter
    const commentAlways = settings.report.comment === 'always'
    result = await handle({
      settings,
      context,
      log,
      api: () => {
        if (!octokit || !reporter) {
          throw new Error('`github-token` is empty: the gate needs the GitHub API.')
        }
        return gateApi(octokit, repo, reporter.lookups)
      },
      tracker: rollback => reporter?.tracker(rollback),
      prepareReport: activating => reporter?.prepare({ activating, comment: commentAlways })
    })
  } catch (error: unknown) {
    if (error instanceof Error && error.stack) core.debug(error.stack)
    result = { ...result, status: 'failed', failure: errorMessage(error) }
  }
  let extra: Partial<Record<OutputName, string>> = {}
  try {
    extra = await report({ settings, context, github, log, result }, forkPullRequest)
  } catch (error: unknown) {
    core.warning(`Reporting failed: ${errorMessage(error)}`)
  }
  const outputs = outputsOf(result, extra, Date.now() - started)
  for (const [name, value] of Object.entries(outputs)) core.setOutput(name, mask(value))
  if (result.failure) core.setFailed(mask(result.failure))
}
