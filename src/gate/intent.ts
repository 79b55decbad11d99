/**
 * What this run is asked to do, decided from the event and the inputs alone (no I/O): build
 * (and stage or deploy), promote a staged release, act on a PR comment command, or nothing.
 */
import type { Decision } from '../action-io.js'
import { stringField } from '../context.js'
import type { Settings } from '../inputs.js'

export type Intent =
  | {
      readonly kind: 'build'
      /** Ship to hosts after the tests (false: build and test only). */
      readonly ship: boolean
      readonly activate: boolean
      readonly decision: Decision
      readonly reason: string
    }
  | {
      readonly kind: 'promote'
      /** A release id or sha, or 'previous'. */
      readonly target: string
      readonly rollback: boolean
      readonly reason: string
    }
  | {
      readonly kind: 'comment'
      readonly command: 'deploy' | 'rollback'
      readonly prNumber: number
      readonly commentId: number
      readonly commenter: string
    }
  | { readonly kind: 'skip'; readonly reason: string }
  | {
      readonly kind: 'deny'
      readonly reason: string
      /** The comment to react "confused" to, when the refusal answers a comment. */
      readonly commentId: number | undefined
    }

function numberField(value: unknown, ...keys: string[]): number | undefined {
  let current = value
  for (const key of keys) {
    if (typeof current !== 'object' || current === null) return undefined
    current = (current as Record<string, unknown>)[key]
  }
  return typeof current === 'number' ? current : undefined
}

/** The command a comment body starts with, if it is one of ours (the rest of the line may follow). */
export function commandOf(
  body: string,
  commands: { approval: string; rollback: string }
): 'deploy' | 'rollback' | undefined {
  const first = body.trimStart().split(/\s/, 1)[0] ?? ''
  if (first === commands.approval) return 'deploy'
  if (first === commands.rollback) return 'rollback'
  return undefined
}

export function isFork(payload: unknown): boolean {
  const head = stringField(payload, 'pull_request', 'head', 'repo', 'full_name')
  const base = stringField(payload, 'pull_request', 'base', 'repo', 'full_name')
  return head !== undefined && base !== undefined && head !== base
}

function commentIntent(payload: unknown, settings: Settings): Intent {
  const body = stringField(payload, 'comment', 'body') ?? ''
  const command = commandOf(body, {
    approval: settings.gate.approvalCommand,
    rollback: settings.gate.rollbackCommand
  })
  const action = stringField(payload, 'action')
  const commentId = numberField(payload, 'comment', 'id')
  if (command === undefined || action === 'deleted') {
    return { kind: 'skip', reason: 'the comment is not a deploy command' }
  }
  const name = command === 'deploy' ? settings.gate.approvalCommand : settings.gate.rollbackCommand
  if (action !== 'created') {
    return {
      kind: 'deny',
      reason: `an edited comment never counts as ${name}: post a new comment`,
      commentId: undefined
    }
  }
  const prNumber = numberField(payload, 'issue', 'number')
  if (
    stringField(payload, 'issue', 'pull_request', 'url') === undefined ||
    prNumber === undefined
  ) {
    return {
      kind: 'deny',
      reason: `${name} works on pull requests only; #${prNumber ?? '?'} is an issue`,
      commentId
    }
  }
  const commenter = stringField(payload, 'comment', 'user', 'login') ?? ''
  if (stringField(payload, 'comment', 'user', 'type') === 'Bot' || commenter.endsWith('[bot]')) {
    return { kind: 'deny', reason: `${commenter} is a bot; bots never approve a deploy`, commentId }
  }
  if (!settings.ship) {
    return {
      kind: 'deny',
      reason: `${name} needs \`hosts\` (and the SSH inputs) in this workflow step`,
      commentId
    }
  }
  return { kind: 'comment', command, prNumber, commentId: commentId ?? 0, commenter }
}

export function decideIntent(eventName: string, payload: unknown, settings: Settings): Intent {
  if (settings.gate.promote !== undefined) {
    return {
      kind: 'promote',
      target: settings.gate.promote,
      rollback: false,
      reason: `promote ${settings.gate.promote} (input)`
    }
  }
  if (settings.gate.rollback !== undefined) {
    const to =
      settings.gate.rollback === 'previous' ? 'the previous release' : settings.gate.rollback
    return {
      kind: 'promote',
      target: settings.gate.rollback,
      rollback: true,
      reason: `roll back to ${to} (input)`
    }
  }
  if (eventName === 'issue_comment') return commentIntent(payload, settings)
  if ((eventName === 'pull_request' || eventName === 'pull_request_target') && isFork(payload)) {
    return {
      kind: 'build',
      ship: false,
      activate: false,
      decision: 'skip',
      reason: 'pull request from a fork: built and tested only; a fork never reaches a server'
    }
  }
  if (!settings.ship) {
    return {
      kind: 'build',
      ship: false,
      activate: false,
      decision: 'skip',
      reason: 'no `hosts`: built and tested only'
    }
  }
  const activate = settings.mode === 'deployment'
  return {
    kind: 'build',
    ship: true,
    activate,
    decision: activate ? 'deploy' : 'stage',
    reason: activate
      ? 'mode deployment: every green build goes live'
      : `mode delivery: staged, awaiting ${settings.gate.approvalCommand} or promote`
  }
}
