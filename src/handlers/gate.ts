/** The two gate flows that talk to GitHub: a comment command, and the in-run approval wait. */
import * as core from '@actions/core'
import { errorMessage } from '../errors.js'
import type { GateApi, Reaction } from '../github/gate-api.js'
import { deny, type ShipRun } from '../run.js'
import { promote, Refusal } from './promote.js'
import type { ShipResult } from './deploy.js'
import { authorize } from '../gate/authorize.js'
import type { Intent } from '../gate/intent.js'
import { waitForApproval } from '../gate/wait.js'

/** Reacts to a comment without ever failing the run for it. */
export async function react(
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

/** `/deploy` or `/rollback` on a pull request: check who and what, then activate. */
export async function onComment(
  intent: Extract<Intent, { kind: 'comment' }>,
  run: ShipRun
): Promise<void> {
  const { settings, outcome } = run
  const api = run.api()
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
  const rollback = intent.command === 'rollback'
  try {
    outcome.deployment = run.tracker(rollback)
    const result = await promote({
      settings: settings.ship,
      context: { ...run.context, sha: pull.headSha },
      log: run.log,
      target: rollback ? { kind: 'previous' } : { kind: 'sha', sha: pull.headSha },
      ...(outcome.deployment ? { tracker: outcome.deployment } : {})
    })
    outcome.shipped = result
    outcome.sha = result.sha
    outcome.status = result.status
    outcome.decision = rollback ? 'rollback' : 'deploy'
    const command = rollback ? settings.gate.rollbackCommand : settings.gate.approvalCommand
    outcome.reason = `${intent.commenter} commented ${command} on #${pull.number}`
    await react(api, intent.commentId, 'rocket')
  } catch (error: unknown) {
    await react(api, intent.commentId, 'confused')
    if (error instanceof Refusal) deny(outcome, error.message)
    else throw error
  }
}

/** After staging with `approval-timeout`: ask, wait, and promote what was staged. */
export async function awaitApproval(staged: ShipResult, run: ShipRun): Promise<void> {
  const { settings, context, outcome } = run
  const api = run.api()
  const since = new Date()
  const approval = await run.log.run('approval', async () => {
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
  outcome.deployment = run.tracker(false)
  const result = await promote({
    settings: settings.ship,
    context,
    log: run.log,
    target: { kind: 'release', id: staged.release },
    ...(outcome.deployment ? { tracker: outcome.deployment } : {})
  })
  outcome.shipped = {
    ...staged,
    status: result.status,
    previousRelease: result.previousRelease,
    hosts: result.hosts
  }
  outcome.status = 'deployed'
  outcome.decision = 'deploy'
  outcome.reason = `${approval.login} approved in the run`
  await react(api, approval.commentId, 'rocket')
}
