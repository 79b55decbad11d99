/** Reporting end to end: the bundle, a real sshd and the OpenAPI-checked GitHub stand-in. */
import { beforeAll, describe, expect, it } from '@jest/globals'
import { nextSha, sshInputs, workspaceWith, writeArtifact } from '../rig/deploy.js'
import type { GitHubStandIn } from '../rig/github-standin.js'
import { examplePayload, pullRequestPayload } from '../rig/payloads.js'
import { runAction, type RunResult } from '../rig/runner.js'
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

async function run(options: {
  ws: string
  eventName: string
  payload: Record<string, unknown>
  sha: string
  inputs: Record<string, string>
}): Promise<RunResult> {
  return runAction({
    workspace: options.ws,
    eventName: options.eventName,
    payload: options.payload,
    inputs: { 'github-token': 'ghs_report', ...options.inputs },
    env: { GITHUB_SHA: options.sha, GITHUB_API_URL: github.url }
  })
}

function ourComments(number: number): { id: number; body: string; login: string }[] {
  return github.state
    .commentsOn(number)
    .filter(c => c.body.includes(MARKER))
    .map(c => ({ id: c.id, body: c.body, login: c.user.login }))
}

describe('sticky pull-request comment', () => {
  it('keeps one comment per PR and environment, edited by each run, and leaves others alone', async () => {
    const remote = await makeTestDir()
    const ws = workspaceWith({ 'a.txt': '1' })
    github.state.addPull({ number: 5, head: { sha: nextSha() } })
    const impostor = github.state.addComment({
      issueNumber: 5,
      body: `${MARKER}\nnot ours`,
      user: { login: 'mallory', type: 'User' }
    })
    const first = await run({
      ws,
      eventName: 'pull_request',
      payload: pullRequestPayload(5, nextSha()),
      sha: nextSha(),
      inputs: sshInputs(sshd, remote)
    })
    expect(first.exitCode).toBe(0)
    const mine = ourComments(5).filter(c => c.login === 'github-actions[bot]')
    expect(mine).toHaveLength(1)
    expect(mine[0]?.body).toContain('Staged')
    expect(mine[0]?.body).toContain('/deploy')
    expect(first.outputs['comment-url']).toMatch(/#issuecomment-\d+$/)

    writeArtifact(ws, { 'a.txt': '2' })
    const second = await run({
      ws,
      eventName: 'pull_request',
      payload: pullRequestPayload(5, nextSha()),
      sha: nextSha(),
      inputs: sshInputs(sshd, remote)
    })
    expect(second.exitCode).toBe(0)
    const after = ourComments(5).filter(c => c.login === 'github-actions[bot]')
    expect(after).toHaveLength(1)
    expect(after[0]?.id).toBe(mine[0]?.id)
    expect(after[0]?.body).toContain(second.outputs.release ?? '?')
    expect(github.requestsTo('issues/update-comment')).toHaveLength(1)
    expect(github.state.comment(REPO, impostor.id)?.body).toBe(`${MARKER}\nnot ours`)
  })

  it('on push, comments on the pull request that merged the commit', async () => {
    const sha = nextSha()
    github.state.addPull({
      number: 6,
      head: { sha: nextSha() },
      state: 'closed',
      merged: true,
      mergeCommitSha: sha
    })
    const result = await run({
      ws: workspaceWith({}),
      eventName: 'push',
      payload: examplePayload('push'),
      sha,
      inputs: { build: 'echo built', test: 'echo tested' }
    })
    expect(result.exitCode).toBe(0)
    expect(github.requestsTo('repos/list-pull-requests-associated-with-commit')).toHaveLength(1)
    expect(ourComments(6)).toHaveLength(1)
    expect(ourComments(6)[0]?.body).toContain('Tested')
  })

  it('says where to undo a deploy: on the pull request that merged it, else by the workflow input', async () => {
    const merged = nextSha()
    github.state.addPull({
      number: 7,
      head: { sha: nextSha() },
      state: 'closed',
      merged: true,
      mergeCommitSha: merged
    })
    const remote = await makeTestDir()
    const inputs = { ...sshInputs(sshd, remote), mode: 'deployment' }
    const withPull = await run({
      ws: workspaceWith({ 'a.txt': '1' }),
      eventName: 'push',
      payload: examplePayload('push'),
      sha: merged,
      inputs
    })
    expect(withPull.exitCode).toBe(0)
    expect(ourComments(7)[0]?.body).toContain('on the pull request')
    const alone = await run({
      ws: workspaceWith({ 'a.txt': '2' }),
      eventName: 'push',
      payload: examplePayload('push'),
      sha: nextSha(),
      inputs
    })
    expect(alone.exitCode).toBe(0)
    expect(alone.summary).toContain('rollback: true')
    expect(alone.summary).not.toContain('on the pull request')
    // The report counts the file's own byte; the output, the 10 KiB tar record that carried it.
    expect(alone.summary).toContain('1 file, 1 B')
    expect(Number(alone.outputs['bytes-uploaded'])).toBeGreaterThan(10_000)
  })
})

describe('GitHub deployments', () => {
  it('records one deployment per activation with in_progress then success, and the URLs', async () => {
    const remote = await makeTestDir()
    const sha = nextSha()
    github.state.addCommit(sha, new Date(Date.now() - 3_600_000).toISOString())
    const result = await run({
      ws: workspaceWith({ 'a.txt': 'live' }),
      eventName: 'push',
      payload: examplePayload('push'),
      sha,
      inputs: {
        ...sshInputs(sshd, remote),
        mode: 'deployment',
        'environment-url': 'https://app.example.com'
      }
    })
    expect(result.log).not.toContain('::error::')
    expect(result.exitCode).toBe(0)
    const created = github.requestsTo('repos/create-deployment')
    expect(created).toHaveLength(1)
    expect(created[0]?.body).toMatchObject({
      ref: sha,
      environment: 'production',
      auto_merge: false,
      required_contexts: []
    })
    const deployments = github.state.deploymentsIn()
    expect(result.outputs['deployment-id']).toBe(String(deployments[0]?.id))
    const statuses = github
      .requestsTo('repos/create-deployment-status')
      .map(r => r.body as Record<string, unknown>)
    expect(statuses.map(s => s.state)).toEqual(['in_progress', 'success'])
    expect(statuses[1]).toMatchObject({
      environment_url: 'https://app.example.com',
      log_url: 'https://github.com/Codertocat/Hello-World/actions/runs/1234567890'
    })
    expect(result.outputs['environment-url']).toBe('https://app.example.com')
    expect(result.summary).toContain('https://app.example.com')
    // One deployment is too little history for delivery metrics, and the report says so.
    expect(result.summary).toContain('Delivery metrics (DORA)')
    expect(result.summary).toContain('Not enough history yet')
    expect(result.log).not.toContain('could not read the deployment history')
    // The history in one GraphQL request; no REST list, statuses or commit look-ups.
    expect(github.requestsTo('graphql')).toHaveLength(1)
    for (const operation of [
      'repos/list-deployments',
      'repos/list-deployment-statuses',
      'repos/get-commit'
    ]) {
      expect(github.requestsTo(operation)).toEqual([])
    }
  })

  it('marks the deployment failed when activation fails', async () => {
    const remote = await makeTestDir()
    const result = await run({
      ws: workspaceWith({ 'a.txt': 'x' }),
      eventName: 'push',
      payload: examplePayload('push'),
      sha: nextSha(),
      inputs: { ...sshInputs(sshd, remote), mode: 'deployment', 'before-activate': 'exit 1' }
    })
    expect(result.exitCode).toBe(1)
    const [deployment] = github.state.deploymentsIn()
    const states = github
      .requestsTo('repos/create-deployment-status')
      .map(r => (r.body as { state: string }).state)
    expect(states).toEqual(['in_progress', 'failure'])
    expect(github.state.statusesOf(deployment?.id ?? -1)).toHaveLength(2)
  })

  it('creates no deployment when staging only, or with deployment-record: false', async () => {
    const remote = await makeTestDir()
    const staged = await run({
      ws: workspaceWith({ 'a.txt': '1' }),
      eventName: 'push',
      payload: examplePayload('push'),
      sha: nextSha(),
      inputs: sshInputs(sshd, remote)
    })
    const deployed = await run({
      ws: workspaceWith({ 'a.txt': '1' }),
      eventName: 'push',
      payload: examplePayload('push'),
      sha: nextSha(),
      inputs: { ...sshInputs(sshd, remote), mode: 'deployment', 'deployment-record': 'false' }
    })
    expect([staged.outputs.status, deployed.outputs.status]).toEqual(['staged', 'deployed'])
    expect(github.requestsTo('repos/create-deployment')).toEqual([])
  })
})

describe('resilience', () => {
  it('a fork pull request makes no API writes and says why', async () => {
    const result = await run({
      ws: workspaceWith({}),
      eventName: 'pull_request',
      payload: pullRequestPayload(9, nextSha(), { headRepo: 'someone/Hello-World' }),
      sha: nextSha(),
      inputs: { build: 'true' }
    })
    expect(result.exitCode).toBe(0)
    expect(github.requests.filter(r => r.method !== 'GET')).toEqual([])
    expect(result.log).toContain('Pull request from a fork')
  })

  it('a deploy that worked still succeeds when the comments API answers 500, with a warning', async () => {
    const remote = await makeTestDir()
    github.state.addPull({ number: 10, head: { sha: nextSha() } })
    // Both attempts of the first call fail (the client retries a 500 once), the rest succeed.
    github.respond('issues/list-comments', {
      status: 500,
      body: { message: 'Server Error' },
      times: 2
    })
    const result = await run({
      ws: workspaceWith({ 'a.txt': 'ok' }),
      eventName: 'pull_request',
      payload: pullRequestPayload(10, nextSha()),
      sha: nextSha(),
      inputs: { ...sshInputs(sshd, remote), mode: 'deployment' }
    })
    expect(result.exitCode).toBe(0)
    expect(result.outputs.status).toBe('deployed')
    expect(result.log).toMatch(/::warning::Reporting: could not comment on #10/)
    expect(github.requestsTo('issues/list-comments')).toHaveLength(2) // retried once, then given up
  })
})
