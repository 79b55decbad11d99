/**
 * The delivery gate end to end: the bundle against a real sshd and the OpenAPI-checked GitHub
 * stand-in, driven by real webhook payloads (edited where a case needs it).
 */
import { beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync, readdirSync } from 'node:fs'
import {
  history,
  liveRelease,
  nextSha,
  readRemote,
  releases,
  sshInputs,
  workspaceWith,
  writeArtifact
} from '../rig/deploy.js'
import type { GitHubStandIn } from '../rig/github-standin.js'
import { examplePayload, pullRequestPayload } from '../rig/payloads.js'
import { runAction, type RunResult } from '../rig/runner.js'
import { useServers } from '../rig/servers.js'
import { makeTestDir, type Sshd } from '../rig/sshd.js'

const REPO = 'Codertocat/Hello-World'
const servers = useServers(REPO)
let sshd: Sshd
let github: GitHubStandIn
beforeAll(() => {
  ;({ sshd, github } = servers)
})

function env(sha: string): Record<string, string> {
  return { GITHUB_SHA: sha, GITHUB_API_URL: github.url }
}

/** An issue_comment payload on PR `number` by `login`. */
function commentPayload(options: {
  number: number
  body: string
  login?: string
  type?: 'User' | 'Bot'
  action?: 'created' | 'edited'
  onPullRequest?: boolean
}): { payload: Record<string, unknown>; commentId: number } {
  const payload = examplePayload('issue_comment', options.action ?? 'created')
  const issue = payload.issue as Record<string, unknown>
  issue.number = options.number
  if (options.onPullRequest ?? true)
    issue.pull_request = { url: `https://api.github.com/repos/${REPO}/pulls/${options.number}` }
  else delete issue.pull_request
  const seeded = github.state.addComment({
    issueNumber: options.number,
    body: options.body,
    user: { login: options.login ?? 'alice', type: options.type ?? 'User' }
  })
  const comment = payload.comment as Record<string, unknown>
  comment.id = seeded.id
  comment.body = options.body
  comment.user = {
    ...(comment.user as object),
    login: options.login ?? 'alice',
    type: options.type ?? 'User'
  }
  return { payload, commentId: seeded.id }
}

async function stageForPull(
  remote: string,
  number: number,
  sha: string,
  files = { 'a.txt': sha }
): Promise<RunResult> {
  github.state.addPull({ number, head: { sha }, user: 'octocat' })
  const result = await runAction({
    workspace: workspaceWith(files),
    eventName: 'pull_request',
    payload: pullRequestPayload(number, sha),
    inputs: { mode: 'delivery', ...sshInputs(sshd, remote), 'github-token': 'ghs_test' },
    env: env(sha)
  })
  expect(result.outputs.status).toBe('staged')
  return result
}

async function comment(
  remote: string,
  payload: Record<string, unknown>,
  extra: Record<string, string> = {}
): Promise<RunResult> {
  return runAction({
    workspace: workspaceWith({}),
    eventName: 'issue_comment',
    payload,
    inputs: { ...sshInputs(sshd, remote), 'github-token': 'ghs_test', ...extra },
    env: env('0'.repeat(40))
  })
}

function reactions(commentId: number): string[] {
  return github.state.reactionsOn(commentId).map(r => r.content)
}

function writes(): string[] {
  return github.requests
    .filter(r => r.method !== 'GET')
    .map(r => `${r.method} ${r.operationId ?? r.path}`)
}

describe('mode: delivery', () => {
  it('stages on push and does not activate', async () => {
    const remote = await makeTestDir()
    const sha = nextSha()
    const result = await runAction({
      workspace: workspaceWith({ 'a.txt': '1' }),
      eventName: 'push',
      payload: examplePayload('push'),
      inputs: { ...sshInputs(sshd, remote), build: 'true', test: 'true' },
      env: env(sha)
    })
    expect(result.exitCode).toBe(0)
    expect(result.outputs).toMatchObject({ status: 'staged', decision: 'stage' })
    expect(releases(remote)).toEqual([result.outputs.release])
    expect(liveRelease(remote)).toBeUndefined()
  })

  it('activates the release staged for the PR head on an authorised /deploy, and reacts', async () => {
    const remote = await makeTestDir()
    const sha = nextSha()
    const staged = await stageForPull(remote, 7, sha)
    github.state.setRole('alice', 'write')
    const { payload, commentId } = commentPayload({ number: 7, body: '/deploy' })
    const result = await comment(remote, payload)
    expect(result.log).not.toContain('::error::')
    expect(result.exitCode).toBe(0)
    expect(result.outputs).toMatchObject({
      status: 'deployed',
      decision: 'deploy',
      release: staged.outputs.release,
      sha
    })
    expect(liveRelease(remote)).toBe(staged.outputs.release)
    expect(readRemote(remote, 'current', 'a.txt')).toBe(sha)
    expect(reactions(commentId)).toEqual(['eyes', 'rocket'])
    expect(history(remote).map(h => h.event)).toEqual(['stage', 'activate'])
  })

  it.each([
    ['an unauthorised commenter', { login: 'mallory' }, 'mallory has read permission'],
    ['a bot', { login: 'renovate[bot]', type: 'Bot' as const }, 'renovate[bot] is a bot'],
    ['a comment on an issue', { onPullRequest: false }, 'works on pull requests only']
  ])('refuses %s: nothing activated, confused reaction', async (_name, options, reason) => {
    const remote = await makeTestDir()
    await stageForPull(remote, 8, nextSha())
    github.state.setRole('mallory', 'read')
    const { payload, commentId } = commentPayload({ number: 8, body: '/deploy please', ...options })
    const result = await comment(remote, payload)
    expect(result.exitCode).toBe(1)
    expect(result.outputs.decision).toBe('deny')
    expect(result.outputs.reason).toContain(reason)
    expect(liveRelease(remote)).toBeUndefined()
    expect(reactions(commentId)).toContain('confused')
  })

  it('refuses an edited comment without reacting', async () => {
    const remote = await makeTestDir()
    await stageForPull(remote, 9, nextSha())
    github.state.setRole('alice', 'admin')
    const { payload, commentId } = commentPayload({ number: 9, body: '/deploy', action: 'edited' })
    const result = await comment(remote, payload)
    expect(result.exitCode).toBe(1)
    expect(result.outputs.decision).toBe('deny')
    expect(result.outputs.reason).toContain('an edited comment never counts')
    expect(reactions(commentId)).toEqual([])
    expect(liveRelease(remote)).toBeUndefined()
  })

  it('refuses when a commit was pushed after staging (stale sha)', async () => {
    const remote = await makeTestDir()
    await stageForPull(remote, 10, nextSha())
    github.state.addPull({ number: 11, head: { sha: nextSha() } })
    github.state.setRole('alice', 'write')
    const { payload } = commentPayload({ number: 11, body: '/deploy' })
    const result = await comment(remote, payload)
    expect(result.exitCode).toBe(1)
    expect(result.outputs.decision).toBe('deny')
    expect(result.outputs.reason).toContain('is not staged on')
    expect(liveRelease(remote)).toBeUndefined()
  })

  it('refuses a pull request from a fork and a closed one', async () => {
    const remote = await makeTestDir()
    github.state.setRole('alice', 'write')
    github.state.addPull({ number: 12, head: { sha: nextSha(), repository: 'evil/Hello-World' } })
    github.state.addPull({ number: 13, head: { sha: nextSha() }, state: 'closed' })
    const fork = await comment(remote, commentPayload({ number: 12, body: '/deploy' }).payload)
    expect(fork.outputs.reason).toContain('comes from a fork')
    const closed = await comment(remote, commentPayload({ number: 13, body: '/deploy' }).payload)
    expect(closed.outputs.reason).toContain('is closed')
    expect([fork.exitCode, closed.exitCode]).toEqual([1, 1])
    expect(readdirSync(remote)).toEqual([])
  })

  it('ignores any other comment: skip, exit 0, no API writes', async () => {
    const remote = await makeTestDir()
    const { payload } = commentPayload({ number: 14, body: 'LGTM, but /deploy later' })
    const before = writes().length
    const result = await comment(remote, payload)
    expect(result.exitCode).toBe(0)
    expect(result.outputs).toMatchObject({ status: 'skipped', decision: 'skip' })
    expect(writes().length).toBe(before)
    expect(readdirSync(remote)).toEqual([])
  })

  it('/rollback switches back to the previous release', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': 'one' })
    const deployOnce = async (): Promise<RunResult> =>
      runAction({
        workspace: ws,
        eventName: 'push',
        inputs: { mode: 'deployment', ...sshInputs(sshd, remote) },
        env: env(nextSha())
      })
    const first = await deployOnce()
    writeArtifact(ws, { 'a.txt': 'two' })
    await deployOnce()
    github.state.addPull({ number: 15, head: { sha: nextSha() } })
    github.state.setRole('alice', 'maintain')
    const { payload, commentId } = commentPayload({ number: 15, body: '/rollback' })
    const result = await comment(remote, payload)
    expect(result.exitCode).toBe(0)
    expect(result.outputs).toMatchObject({
      status: 'rolled-back',
      decision: 'rollback',
      release: first.outputs.release
    })
    expect(readRemote(remote, 'current', 'a.txt')).toBe('one')
    expect(reactions(commentId)).toEqual(['eyes', 'rocket'])
  })
})

describe('promote', () => {
  it('activates a staged release by sha and by id, with no build', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': 'first' })
    const stage = async (sha: string): Promise<RunResult> =>
      runAction({ workspace: ws, inputs: sshInputs(sshd, remote), env: env(sha) })
    const shaOne = nextSha()
    const one = await stage(shaOne)
    writeArtifact(ws, { 'a.txt': 'second' })
    const two = await stage(nextSha())
    expect(liveRelease(remote)).toBeUndefined()

    const promote = (target: string): Promise<RunResult> =>
      runAction({
        workspace: workspaceWith({}),
        inputs: { ...sshInputs(sshd, remote), promote: target, build: 'touch built' },
        env: env(nextSha())
      })
    const bySha = await promote(shaOne)
    expect(bySha.outputs).toMatchObject({
      status: 'deployed',
      decision: 'promote',
      release: one.outputs.release,
      sha: shaOne
    })
    expect(readRemote(remote, 'current', 'a.txt')).toBe('first')
    const byId = await promote(two.outputs.release ?? '')
    expect(byId.outputs).toMatchObject({
      status: 'deployed',
      release: two.outputs.release,
      'previous-release': one.outputs.release
    })
    expect(readRemote(remote, 'current', 'a.txt')).toBe('second')
    expect(bySha.log).not.toContain('::group::build')

    const refused = await runAction({
      workspace: workspaceWith({}),
      inputs: { ...sshInputs(sshd, remote), promote: shaOne, 'before-activate': 'exit 3' },
      env: env(nextSha())
    })
    expect(refused.exitCode).toBe(1)
    expect(readRemote(remote, 'current', 'a.txt')).toBe('second')
    expect(history(remote).at(-1)).toMatchObject({ event: 'failure', release: one.outputs.release })
    expect(releases(remote)).toContain(one.outputs.release) // it stays staged

    const missing = await promote('99999999999999-abcdefabcdef')
    expect(missing.exitCode).toBe(1)
    expect(missing.outputs.decision).toBe('deny')
    expect(readRemote(remote, 'current', 'a.txt')).toBe('second')
  })
})

describe('rollback input', () => {
  it('switches back to the previous release, or to a named one, with no build', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': 'one' })
    const made: string[] = []
    for (const content of ['one', 'two', 'three']) {
      writeArtifact(ws, { 'a.txt': content })
      const result = await runAction({
        workspace: ws,
        inputs: { mode: 'deployment', ...sshInputs(sshd, remote) },
        env: env(nextSha())
      })
      made.push(result.outputs.release ?? '')
    }
    const rollback = (value: string): Promise<RunResult> =>
      runAction({
        workspace: workspaceWith({}),
        inputs: { ...sshInputs(sshd, remote), rollback: value, build: 'touch built' },
        env: env(nextSha())
      })
    const back = await rollback('true')
    expect(back.outputs).toMatchObject({
      status: 'rolled-back',
      decision: 'rollback',
      release: made[1]
    })
    expect(readRemote(remote, 'current', 'a.txt')).toBe('two')
    const named = await rollback(made[0] ?? '')
    expect(named.outputs).toMatchObject({ status: 'rolled-back', release: made[0] })
    expect(readRemote(remote, 'current', 'a.txt')).toBe('one')
    expect(back.log).not.toContain('::group::build')
    const bad = await rollback('yesterday')
    expect(bad.exitCode).toBe(1)
    expect(bad.log).toContain('`rollback`: expected true, false or a release id')
  })
})

describe('approval-timeout', () => {
  it('promotes when an authorised person approves in time', async () => {
    const remote = await makeTestDir()
    const sha = nextSha()
    github.state.addPull({ number: 21, head: { sha }, user: 'octocat' })
    github.state.setRole('alice', 'write')
    github.on('issues/create-comment', ({ request, next }) => {
      // When the action asks, alice answers a moment later; a stranger answers first.
      setTimeout(() => {
        github.state.addComment({
          issueNumber: 21,
          body: '/deploy',
          user: { login: 'eve', type: 'User' }
        })
        github.state.addComment({
          issueNumber: 21,
          body: '/deploy',
          user: { login: 'alice', type: 'User' }
        })
      }, 500)
      void request
      return next()
    })
    const result = await runAction({
      workspace: workspaceWith({ 'a.txt': 'approved' }),
      eventName: 'pull_request',
      payload: pullRequestPayload(21, sha),
      inputs: { ...sshInputs(sshd, remote), 'approval-timeout': '0.5', 'github-token': 'ghs_test' },
      env: env(sha)
    })
    expect(result.log).not.toContain('::error::')
    expect(result.outputs).toMatchObject({ status: 'deployed', decision: 'deploy' })
    expect(result.log).toContain('Ignored /deploy from eve')
    expect(readRemote(remote, 'current', 'a.txt')).toBe('approved')
    expect(
      github.state.commentsOn(21).some(c => c.body.includes('is staged for **production**'))
    ).toBe(true)
  })

  it('ignores an approval that was edited in after the comment was written', async () => {
    const remote = await makeTestDir()
    const sha = nextSha()
    github.state.addPull({ number: 22, head: { sha }, user: 'octocat' })
    github.state.setRole('alice', 'write')
    github.on('issues/create-comment', ({ next }) => {
      // alice writes "LGTM", then edits it into the approval command.
      setTimeout(() => {
        const written = github.state.addComment({
          issueNumber: 22,
          body: 'LGTM',
          user: { login: 'alice', type: 'User' }
        })
        setTimeout(() => {
          void fetch(`${github.url}/repos/${REPO}/issues/comments/${written.id}`, {
            method: 'PATCH',
            headers: { authorization: 'token ghs_alice', 'content-type': 'application/json' },
            body: JSON.stringify({ body: '/deploy' })
          })
        }, 300)
      }, 200)
      return next()
    })
    const result = await runAction({
      workspace: workspaceWith({ 'a.txt': 'not approved' }),
      eventName: 'pull_request',
      payload: pullRequestPayload(22, sha),
      inputs: {
        ...sshInputs(sshd, remote),
        'approval-timeout': '0.08',
        'github-token': 'ghs_test'
      },
      env: env(sha)
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain(
      'Ignored /deploy from alice: an edited comment never counts; post a new comment.'
    )
    expect(result.log).toContain('Timed out')
    expect(liveRelease(remote)).toBeUndefined()
  })

  it('on a push with no pull request, asks in an issue assigned to the approvers', async () => {
    const remote = await makeTestDir()
    github.state.setRole('alice', 'read') // listed approvers need no repository permission
    github.on('issues/create', ({ next }) => {
      const response = next()
      // The approver answers in the new issue a moment later.
      const { number } = response.body as { number: number }
      setTimeout(() => {
        github.state.addComment({
          issueNumber: number,
          body: '/deploy',
          user: { login: 'alice', type: 'User' }
        })
      }, 500)
      return response
    })
    const result = await runAction({
      workspace: workspaceWith({ 'a.txt': 'from push' }),
      eventName: 'push',
      payload: examplePayload('push'),
      inputs: {
        ...sshInputs(sshd, remote),
        approvers: 'alice',
        'approval-timeout': '0.5',
        'github-token': 'ghs_test'
      },
      env: env(nextSha())
    })
    expect(result.log).not.toContain('::error::')
    expect(result.outputs).toMatchObject({ status: 'deployed', decision: 'deploy' })
    const [request] = github.requestsTo('issues/create')
    expect(request?.body).toMatchObject({ assignees: ['alice'] })
    expect(readRemote(remote, 'current', 'a.txt')).toBe('from push')
  })

  it('fails with a clear message when nobody approves in time, leaving the release staged', async () => {
    const remote = await makeTestDir()
    const sha = nextSha()
    github.state.addPull({ number: 22, head: { sha } })
    const result = await runAction({
      workspace: workspaceWith({ 'a.txt': 'waiting' }),
      eventName: 'pull_request',
      payload: pullRequestPayload(22, sha),
      inputs: {
        ...sshInputs(sshd, remote),
        'approval-timeout': '0.05',
        'github-token': 'ghs_test'
      },
      env: env(sha)
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toMatch(/Timed out after 0\.05 min waiting for \/deploy on #22/)
    expect(releases(remote)).toHaveLength(1)
    expect(liveRelease(remote)).toBeUndefined()
  })
})

describe('forks', () => {
  it('builds and tests a fork PR in deployment mode but never connects to a server', async () => {
    const result = await runAction({
      workspace: workspaceWith({ 'a.txt': '1' }),
      eventName: 'pull_request',
      payload: pullRequestPayload(30, nextSha(), { headRepo: 'evil/Hello-World' }),
      inputs: {
        mode: 'deployment',
        ...sshInputs(sshd, '/nonexistent/never'),
        hosts: 'nobody@127.0.0.1:1',
        'private-key': '', // a fork's run gets no secrets
        build: 'echo built > built.txt'
      },
      env: env(nextSha())
    })
    expect(result.exitCode).toBe(0)
    expect(result.outputs).toMatchObject({ status: 'tested', decision: 'skip' })
    expect(result.outputs.reason).toContain('a fork never reaches a server')
    expect(result.log).not.toContain('::group::connect')
    expect(existsSync('/nonexistent/never')).toBe(false)
  })
})

describe('dry-run', () => {
  it('holds for promote, rollback and /deploy: each resolves its release and switches nothing', async () => {
    const remote = await makeTestDir()
    const sha = nextSha()
    const staged = await stageForPull(remote, 31, sha)
    const first = staged.outputs.release ?? ''
    const dry = { 'dry-run': 'true' }
    const before = history(remote).length

    const promoted = await runAction({
      workspace: workspaceWith({}),
      inputs: { ...sshInputs(sshd, remote), promote: first, ...dry },
      env: env(nextSha())
    })
    expect(promoted.log).not.toContain('::error::')
    expect(promoted.outputs).toMatchObject({ status: 'dry-run', release: first })
    expect(promoted.log).toContain(`dry run: would switch current to ${first}`)
    expect(liveRelease(remote)).toBeUndefined()

    github.state.setRole('alice', 'write')
    const { payload } = commentPayload({ number: 31, body: '/deploy' })
    const approved = await comment(remote, payload, dry)
    expect(approved.outputs).toMatchObject({ status: 'dry-run', release: first })
    expect(liveRelease(remote)).toBeUndefined()
    expect(writes().filter(w => /deployment/i.test(w))).toEqual([])

    // Make it live for real, then a dry rollback leaves it live.
    const real = await runAction({
      workspace: workspaceWith({}),
      inputs: { ...sshInputs(sshd, remote), promote: first },
      env: env(nextSha())
    })
    expect(real.outputs.status).toBe('deployed')
    const second = await stageForPull(remote, 32, nextSha())
    await runAction({
      workspace: workspaceWith({}),
      inputs: { ...sshInputs(sshd, remote), promote: second.outputs.release ?? '' },
      env: env(nextSha())
    })
    expect(liveRelease(remote)).toBe(second.outputs.release)
    const lines = history(remote).length
    const rolledBack = await runAction({
      workspace: workspaceWith({}),
      inputs: { ...sshInputs(sshd, remote), rollback: 'true', ...dry },
      env: env(nextSha())
    })
    expect(rolledBack.outputs).toMatchObject({ status: 'dry-run', release: first })
    expect(liveRelease(remote)).toBe(second.outputs.release)
    expect(history(remote).length).toBe(lines)
    expect(history(remote).length).toBeGreaterThan(before)
  })
})
