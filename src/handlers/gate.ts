/** The two gate flows that talk to GitHub: a comment command, and the in-run approval wait. */
import * as core from '@actions/core'
import { errorMessage } from '../errors.js'
import { authorize } from '../gate/authorize.js'
import type { Intent } from '../gate/intent.js'
import { waitForApproval } from '../gate/wait.js'
import type { GateApi, Reaction } from '../github/gate-api.js'
import { denied, failedWith, type RunResult } from '../result.js'
import { activation } from './promote.js'
import type { ShipRun } from './services.js'

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
  run: ShipRun,
  result: RunResult,
  intent: Extract<Intent, { kind: 'comment' }>
): Promise<RunResult> {
  const { settings } = run
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
    return denied(result, refusal)
  }
  const rollback = intent.command === 'rollback'
  const command = rollback ? settings.gate.rollbackCommand : settings.gate.approvalCommand
  const done = await activation(
    run,
    {
      ...result,
      sha: pull.headSha,
      decision: rollback ? 'rollback' : 'deploy',
      reason: `${intent.commenter} commented ${command} on #${pull.number}`
    },
    rollback ? { kind: 'previous' } : { kind: 'sha', sha: pull.headSha },
    rollback
  )
  const ok = done.status === 'deployed' || done.status === 'rolled-back'
  await react(api, intent.commentId, ok ? 'rocket' : 'confused')
  return done
}

/** After staging with `approval-timeout`: ask, wait, and promote what was staged. */
export async function awaitApproval(run: ShipRun, staged: RunResult): Promise<RunResult> {
  const { settings, context } = run
  const release = staged.shipped?.release
  if (!release) return staged
  const api = run.api()
  const since = new Date()
  let approval: { login: string; commentId: number }
  try {
    approval = await run.log.run('approval', async () => {
      const prNumber =
        typeof context.payload.number === 'number'
          ? context.payload.number
          : await api.pullForCommit(context.sha)
      const minutes = settings.gate.approvalTimeoutMs / 60_000
      const request =
        `Release \`${release}\` (commit ${context.sha.slice(0, 12)}) is staged for **${settings.environment}**. ` +
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
            `Release ${release} stays staged; promote it later with \`promote: ${release}\`.`
        )
      }
      return { value: approved, detail: `approved by ${approved.login}` }
    })
  } catch (error: unknown) {
    return failedWith(staged, error)
  }
  const done = await activation(
    run,
    { ...staged, decision: 'deploy', reason: `${approval.login} approved in the run` },
    { kind: 'release', id: release },
    false
  )
  if (done.status !== 'deployed') return done
  await react(api, approval.commentId, 'rocket')
  // The transfer figures are the staging's; the hosts' previous releases are the activation's.
  return {
    ...done,
    shipped:
      done.shipped && staged.shipped
        ? {
            ...staged.shipped,
            status: 'deployed',
            previousRelease: done.shipped.previousRelease,
            hosts: done.shipped.hosts
          }
        : done.shipped
  }
}
