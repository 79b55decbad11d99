/** The orchestrator: every stage of DESIGN.md §1 is one call from here. */
import * as core from '@actions/core'
import type { Decision, OutputName, RunStatus } from './action-io.js'
import { readContext, type RunContext } from './context.js'
import { errorMessage } from './errors.js'
import { authorize } from './gate/authorize.js'
import { decideIntent, isFork, type Intent } from './gate/intent.js'
import { waitForApproval } from './gate/wait.js'
import { createOctokit } from './github/client.js'
import { gateApi, type GateApi, type Reaction } from './github/gate-api.js'
import { readSettings, type Settings } from './inputs.js'
import { plural, StageLog } from './report/stages.js'
import { writeSummary } from './report/summary.js'
import { formatBytes } from './ship/host.js'
import { runUserScript } from './stages/build-test.js'
import { describeRestore, restoreCache, saveCache, type CacheOutcome } from './stages/cache.js'
import { parseTarget, promote, Refusal } from './stages/promote.js'
import { ship, type ShipResult } from './stages/ship.js'

export interface Outcome {
  status: RunStatus
  decision: Decision | undefined
  reason: string | undefined
  sha: string
  shipped: ShipResult | undefined
  /** Failed the run (set for failures and for refusals). */
  failure: string | undefined
}

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

/** Reacts to a comment without ever failing the run for it. */
async function react(
  api: GateApi,
  commentId: number | undefined,
  reaction: Reaction
): Promise<void> {
  if (commentId === undefined) return
  try {
    await api.react(commentId, reaction)
  } catch (error: unknown) {
    core.warning(`Could not react ${reaction} to comment ${commentId}: ${errorMessage(error)}`)
  }
}

function deny(outcome: Outcome, reason: string): void {
  outcome.status = 'denied'
  outcome.decision = 'deny'
  outcome.reason = reason
  outcome.failure = `Refused: ${reason}.`
}

/** `/deploy` or `/rollback` on a pull request: check who and what, then activate. */
async function onComment(
  intent: Extract<Intent, { kind: 'comment' }>,
  settings: Settings & { ship: NonNullable<Settings['ship']> },
  context: RunContext,
  api: GateApi,
  log: StageLog,
  outcome: Outcome
): Promise<void> {
  await react(api, intent.commentId, 'eyes')
  const pull = await api.pull(intent.prNumber)
  const refusal = await (async (): Promise<string | undefined> => {
    if (pull.state !== 'open') return `pull request #${pull.number} is ${pull.state}`
    if (pull.fromFork)
      return `pull request #${pull.number} comes from a fork; a fork never reaches a server`
    const verdict = await authorize(api, {
      login: intent.commenter,
      approvers: settings.gate.approvers,
      prAuthor: pull.author,
      allowSelfApproval: settings.gate.allowSelfApproval
    })
    return verdict.ok ? undefined : verdict.reason
  })()
  if (refusal) {
    await react(api, intent.commentId, 'confused')
    deny(outcome, refusal)
    return
  }
  outcome.sha = pull.headSha
  try {
    const result = await promote({
      settings: settings.ship,
      context: { ...context, sha: pull.headSha },
      log,
      target:
        intent.command === 'deploy' ? { kind: 'sha', sha: pull.headSha } : { kind: 'previous' }
    })
    outcome.shipped = result
    outcome.sha = result.sha
    outcome.status = result.status
    outcome.decision = intent.command === 'deploy' ? 'deploy' : 'rollback'
    outcome.reason = `${intent.commenter} commented ${intent.command === 'deploy' ? settings.gate.approvalCommand : settings.gate.rollbackCommand} on #${pull.number}`
    await react(api, intent.commentId, 'rocket')
  } catch (error: unknown) {
    await react(api, intent.commentId, 'confused')
    if (error instanceof Refusal) deny(outcome, error.message)
    else throw error
  }
}

/** After staging with `approval-timeout`: ask, wait, and promote what was staged. */
async function awaitApproval(
  staged: ShipResult,
  settings: Settings & { ship: NonNullable<Settings['ship']> },
  context: RunContext,
  api: GateApi,
  log: StageLog,
  outcome: Outcome
): Promise<void> {
  const since = new Date()
  const approval = await log.run('approval', async () => {
    const prNumber =
      typeof context.payload.number === 'number'
        ? context.payload.number
        : await api.pullForCommit(context.sha)
    const minutes = settings.gate.approvalTimeoutMs / 60_000
    const request =
      `Release \`${staged.release}\` (commit ${context.sha.slice(0, 12)}) is staged for **${settings.environment}**. ` +
      `Comment \`${settings.gate.approvalCommand}\` within ${minutes} min to make it live. [Run](${context.runUrl})`
    const issueNumber =
      prNumber ??
      (await api.openIssue(
        `Approve deploy of ${context.sha.slice(0, 12)} to ${settings.environment}`,
        request,
        settings.gate.approvers
      ))
    if (prNumber !== undefined) await api.comment(prNumber, request)
    core.info(
      `Waiting up to ${minutes} min for ${settings.gate.approvalCommand} on #${issueNumber}.`
    )
    const author = prNumber !== undefined ? (await api.pull(prNumber)).author : undefined
    const approved = await waitForApproval(api, {
      issueNumber,
      since,
      command: settings.gate.approvalCommand,
      timeoutMs: settings.gate.approvalTimeoutMs,
      approvers: settings.gate.approvers,
      allowSelfApproval: settings.gate.allowSelfApproval,
      author
    })
    if (!approved) {
      throw new Error(
        `Timed out after ${minutes} min waiting for ${settings.gate.approvalCommand} on #${issueNumber}. ` +
          `Release ${staged.release} stays staged; promote it later with \`promote: ${staged.release}\`.`
      )
    }
    return { value: approved, detail: `approved by ${approved.login}` }
  })
  const result = await promote({
    settings: settings.ship,
    context,
    log,
    target: { kind: 'release', id: staged.release }
  })
  outcome.shipped = {
    ...result,
    filesUploaded: staged.filesUploaded,
    bytesUploaded: staged.bytesUploaded,
    filesReused: staged.filesReused
  }
  outcome.status = 'deployed'
  outcome.decision = 'deploy'
  outcome.reason = `${approval.login} approved in the run`
  await react(api, approval.commentId, 'rocket')
}

async function pipeline(
  settings: Settings,
  context: RunContext,
  log: StageLog,
  outcome: Outcome
): Promise<void> {
  const intent = decideIntent(context.eventName, context.payload, settings)
  const github = (): GateApi => gateApi(createOctokit(settings.githubToken), context)
  switch (intent.kind) {
    case 'skip':
      outcome.status = 'skipped'
      outcome.decision = 'skip'
      outcome.reason = intent.reason
      core.info(`Nothing to do: ${intent.reason}.`)
      return
    case 'deny':
      if (intent.commentId !== undefined) await react(github(), intent.commentId, 'confused')
      deny(outcome, intent.reason)
      return
    case 'comment':
      if (!settings.ship) throw new Error('unreachable: comment intents need hosts')
      await onComment(intent, { ...settings, ship: settings.ship }, context, github(), log, outcome)
      return
    case 'promote': {
      if (!settings.ship) throw new Error('unreachable: promote needs hosts')
      outcome.decision = 'promote'
      outcome.reason = intent.reason
      let result
      try {
        result = await promote({
          settings: settings.ship,
          context,
          log,
          target: parseTarget(intent.target)
        })
      } catch (error: unknown) {
        if (error instanceof Refusal) return deny(outcome, error.message)
        throw error
      }
      outcome.shipped = result
      outcome.sha = result.sha
      outcome.status = result.status
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
  const shipSettings = { ...settings, ship: settings.ship }
  const shipped = await ship({ settings: settings.ship, activate: intent.activate, context, log })
  outcome.shipped = shipped
  outcome.status = shipped.status
  if (shipped.status === 'staged' && settings.gate.approvalTimeoutMs > 0) {
    await awaitApproval(shipped, shipSettings, context, github(), log, outcome)
  }
}

function outputsOf(outcome: Outcome, durationMs: number): Partial<Record<OutputName, string>> {
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
      : {})
  }
}

function factsOf(outcome: Outcome): [string, string][] {
  const facts: [string, string][] = []
  if (outcome.decision) facts.push(['Decision', `${outcome.decision}: ${outcome.reason ?? ''}`])
  const shipped = outcome.shipped
  if (!shipped) return facts
  facts.push(['Release', shipped.release], ['Previous release', shipped.previousRelease ?? 'none'])
  for (const h of shipped.hosts) {
    facts.push([
      `Host ${h.host}`,
      `${plural(h.filesSent, 'file')} sent (${formatBytes(h.bytesSent)}), ${h.filesReused} reused`
    ])
  }
  return facts
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
    failure: undefined
  }
  try {
    const context = readContext()
    const forkPullRequest = context.eventName.startsWith('pull_request') && isFork(context.payload)
    const settings = readSettings({ forkPullRequest })
    outcome.sha = context.sha
    await pipeline(settings, context, log, outcome)
  } catch (error: unknown) {
    outcome.status = 'failed'
    if (error instanceof Error && error.stack) core.debug(error.stack)
    outcome.failure = errorMessage(error)
  } finally {
    const durationMs = Date.now() - started
    for (const [name, value] of Object.entries(outputsOf(outcome, durationMs)))
      core.setOutput(name, value)
    try {
      await writeSummary({
        status: outcome.status,
        sha: outcome.sha,
        durationMs,
        stages: log.records,
        facts: factsOf(outcome)
      })
    } catch (error: unknown) {
      core.warning(`Could not write the job summary: ${errorMessage(error)}`)
    }
    if (outcome.failure) core.setFailed(outcome.failure)
  }
}
