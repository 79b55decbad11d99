/**
 * Reporting off the deploy's critical path (issue 14), end to end through the bundle: which
 * GitHub requests a run makes and how often, and their order against the switch of `current`.
 * The order is checked by conditions, never by time: the stand-in holds an answer until
 * something has happened (a request arrived, `current` moved) and records what it saw when each
 * request arrived. A run that waited for the held answer before that could happen would never
 * get it: the hold gives up after a long while and the test fails saying what was not seen.
 */
import { beforeAll, describe, expect, it } from '@jest/globals'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { liveRelease, nextSha, sshInputs, workspaceWith } from '../rig/deploy.js'
import type { GitHubStandIn } from '../rig/github-standin.js'
import { examplePayload } from '../rig/payloads.js'
import { runAction } from '../rig/runner.js'
import { useServers } from '../rig/servers.js'
import { makeTestDir, type Sshd } from '../rig/sshd.js'

const REPO = 'Codertocat/Hello-World'
const MARKER = '<!-- gated-deploy:production -->'
const servers = useServers(REPO)
let sshd: Sshd
let github: GitHubStandIn
beforeAll(() => {
  ;({ sshd, github } = servers)
})

/** Waits (polling) until `condition` holds; false when it never did within a long while. */
async function until(condition: () => boolean): Promise<boolean> {
  const giveUp = Date.now() + 30_000
  while (!condition()) {
    if (Date.now() > giveUp) return false
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  return true
}

/** How many requests the stand-in answered, per operation. */
function countsByOperation(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const r of github.requests) {
    const key = r.operationId ?? r.path
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

describe('a deployment-mode run on push', () => {
  it('makes each GitHub call once, creates the deployment before the switch and writes the final status and the comment after it', async () => {
    const remote = await makeTestDir()
    const sha = nextSha()
    github.state.addCommit(sha, new Date(Date.now() - 3_600_000).toISOString())
    github.state.addPull({
      number: 31,
      head: { sha: nextSha() },
      state: 'closed',
      merged: true,
      mergeCommitSha: sha
    })
    const seen: { request: string; live: string | undefined }[] = []
    let lookupsBeforeCreation = false
    // The deployment's creation is answered only once the comment's look-ups were made: a run
    // that made them after the switch (which waits for the creation) would never get it.
    github.on('repos/create-deployment', async ({ next }) => {
      seen.push({ request: 'create-deployment', live: liveRelease(remote) })
      lookupsBeforeCreation = await until(() =>
        ['repos/list-pull-requests-associated-with-commit', 'issues/list-comments'].every(
          op => github.requestsTo(op).length > 0
        )
      )
      return next()
    })
    // The in_progress status is answered only once `current` switched: the switch must not wait
    // for a status. Every status records what was live when it arrived.
    let switchedWhileStatusHeld = false
    github.on('repos/create-deployment-status', async ({ request, next }) => {
      const state = (request.body as { state: string }).state
      seen.push({ request: `status ${state}`, live: liveRelease(remote) })
      if (state === 'in_progress')
        switchedWhileStatusHeld = await until(() => !!liveRelease(remote))
      return next()
    })
    github.on('issues/create-comment', ({ next }) => {
      seen.push({ request: 'create-comment', live: liveRelease(remote) })
      return next()
    })

    const result = await runAction({
      workspace: workspaceWith({ 'a.txt': 'live' }),
      eventName: 'push',
      payload: examplePayload('push'),
      inputs: { 'github-token': 'ghs_report', ...sshInputs(sshd, remote), mode: 'deployment' },
      env: { GITHUB_SHA: sha, GITHUB_API_URL: github.url }
    })

    expect(result.log).not.toContain('::warning')
    expect(result.exitCode).toBe(0)
    const release = result.outputs.release
    expect(liveRelease(remote)).toBe(release)
    expect(lookupsBeforeCreation).toBe(true)
    expect(switchedWhileStatusHeld).toBe(true)
    // Before the switch: the creation. After it: the final status and the comment (in either
    // order: they go out together). The in_progress status may come before or after the switch.
    const liveAt = (request: string): (string | undefined)[] =>
      seen.filter(s => s.request === request).map(s => s.live)
    expect(liveAt('create-deployment')).toEqual([undefined])
    expect(liveAt('status in_progress')).toHaveLength(1)
    expect(liveAt('status success')).toEqual([release])
    expect(liveAt('create-comment')).toEqual([release])
    // One request per kind; the comment is created, then the list read again for a concurrent run.
    expect(countsByOperation()).toEqual({
      'repos/list-pull-requests-associated-with-commit': 1,
      'users/get-authenticated': 1,
      'issues/list-comments': 2,
      'repos/create-deployment': 1,
      'repos/create-deployment-status': 2,
      graphql: 1,
      'issues/create-comment': 1
    })
    expect(github.requestsTo('repos/get-commit')).toEqual([])
    // What the user sees is as before: the deployment, its statuses, the comment, the report.
    const [deployment] = github.state.deploymentsIn()
    expect(result.outputs['deployment-id']).toBe(String(deployment?.id))
    // Newest first, as GitHub lists them.
    expect(github.state.statusesOf(deployment?.id ?? -1).map(s => s.state)).toEqual([
      'success',
      'in_progress'
    ])
    const comments = github.state.commentsOn(31).filter(c => c.body.startsWith(MARKER))
    expect(comments).toHaveLength(1)
    expect(comments[0]?.body).toContain(release ?? '?')
    expect(result.outputs['comment-url']).toMatch(/#issuecomment-\d+$/)
    expect(result.summary).toContain('Not enough history yet')
  })

  it('marks the deployment of a run that failed before the switch inactive, never live', async () => {
    const file = path.join(await makeTestDir(), 'not-a-directory')
    writeFileSync(file, 'x')
    const sha = nextSha()
    const result = await runAction({
      workspace: workspaceWith({ 'a.txt': 'x' }),
      eventName: 'push',
      payload: examplePayload('push'),
      inputs: {
        'github-token': 'ghs_report',
        ...sshInputs(sshd, file),
        mode: 'deployment',
        // Below a regular file: the lock cannot be made, after the deployment was begun.
        'remote-path': path.join(file, 'app')
      },
      env: { GITHUB_SHA: sha, GITHUB_API_URL: github.url }
    })

    expect(result.exitCode).toBe(1)
    expect(result.outputs['deployment-id']).toBeUndefined()
    const deployments = github.state.deploymentsIn()
    expect(deployments.map(d => d.sha)).toEqual([sha])
    const statuses = github.state.statusesOf(deployments[0]?.id ?? -1)
    expect(statuses.map(s => s.state)).toEqual(['inactive', 'in_progress']) // newest first
    expect(statuses[0]?.description).toMatch(/^Not activated: /)
    // The history was read ahead in vain: nothing went live, so no delivery metrics.
    expect(result.summary).not.toContain('Delivery metrics')
    expect(result.log).not.toContain('::warning')
  })
})

describe('a run that stages, waits for approval and promotes', () => {
  it('looks the commit’s pull request up once for the gate and the report together', async () => {
    const remote = await makeTestDir()
    const sha = nextSha()
    github.state.addPull({
      number: 32,
      head: { sha: nextSha() },
      state: 'closed',
      merged: true,
      mergeCommitSha: sha
    })
    github.state.setRole('alice', 'write')
    github.on('issues/create-comment', ({ request, next }) => {
      // The approval request gets its answer right away.
      if ((request.body as { body: string }).body.includes('is staged for')) {
        github.state.addComment({
          issueNumber: 32,
          body: '/deploy',
          user: { login: 'alice', type: 'User' }
        })
      }
      return next()
    })

    const result = await runAction({
      workspace: workspaceWith({ 'a.txt': 'approved' }),
      eventName: 'push',
      payload: examplePayload('push'),
      inputs: {
        'github-token': 'ghs_report',
        ...sshInputs(sshd, remote),
        'approval-timeout': '0.5'
      },
      env: { GITHUB_SHA: sha, GITHUB_API_URL: github.url }
    })

    expect(result.log).not.toContain('::warning')
    expect(result.outputs).toMatchObject({ status: 'deployed', decision: 'deploy' })
    expect(github.requestsTo('repos/list-pull-requests-associated-with-commit')).toHaveLength(1)
    expect(github.requestsTo('users/get-authenticated')).toHaveLength(1)
    expect(github.state.commentsOn(32).filter(c => c.body.startsWith(MARKER))).toHaveLength(1)
  })
})
