/** The GitHub REST API stand-in answers like GitHub, remembers writes, and rejects what GitHub would not. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { getOctokit } from '@actions/github'
import { startGitHubStandIn } from '../rig/github-standin.js'
import type { GitHubStandIn } from '../rig/github-standin.js'
import { BUILT_IN_HANDLERS } from '../rig/github-standin/handlers/index.js'
import { RouteTable } from '../rig/github-standin/routes.js'

const TOKEN = 'ghs_standInTestToken'
const OWNER = 'octo-org'
const REPO = 'octo-app'
const SHA = 'a'.repeat(40)

let github: GitHubStandIn
let octokit: ReturnType<typeof getOctokit>

beforeAll(async () => {
  github = await startGitHubStandIn({ repository: `${OWNER}/${REPO}` })
  octokit = getOctokit(TOKEN, { baseUrl: github.url })
})

afterEach(() => github.reset())

afterAll(async () => {
  await github.close()
})

/** A raw request, for what octokit would not send. */
async function call(
  method: string,
  path: string,
  body?: unknown
): Promise<{ status: number; body: Record<string, unknown>; link: string | null }> {
  const init: RequestInit = { method, headers: { authorization: `token ${TOKEN}` } }
  if (body !== undefined) init.body = JSON.stringify(body)
  const response = await fetch(`${github.url}${path}`, init)
  const text = await response.text()
  const parsed: unknown = text === '' ? {} : JSON.parse(text)
  return {
    status: response.status,
    body: parsed as Record<string, unknown>,
    link: response.headers.get('link')
  }
}

describe('GitHub stand-in', () => {
  it('listens on loopback only', () => {
    expect(new URL(github.url).hostname).toBe('127.0.0.1')
    expect(Number(new URL(github.url).port)).toBeGreaterThan(0)
  })

  it('creates and lists comments with GitHub-shaped answers and records the token', async () => {
    github.state.addPull({ number: 7, head: { sha: SHA } })
    const theirs = github.state.addComment({ issueNumber: 7, body: '/deploy', user: 'alice' })

    const { status, data: mine } = await octokit.rest.issues.createComment({
      owner: OWNER,
      repo: REPO,
      issue_number: 7,
      body: '<!-- gated-deploy:production -->\nStaged.'
    })
    const { data: listed } = await octokit.rest.issues.listComments({
      owner: OWNER,
      repo: REPO,
      issue_number: 7
    })

    expect(status).toBe(201)
    expect(typeof mine.id).toBe('number')
    expect(mine.html_url).toBe(`https://github.com/${OWNER}/${REPO}/pull/7#issuecomment-${mine.id}`)
    expect(mine.user).toMatchObject({ login: 'github-actions[bot]', id: 41898282, type: 'Bot' })
    expect(listed.map(c => [c.id, c.user?.login, c.body])).toEqual([
      [theirs.id, 'alice', '/deploy'],
      [mine.id, 'github-actions[bot]', '<!-- gated-deploy:production -->\nStaged.']
    ])
    const [created] = github.requestsTo('issues/create-comment')
    expect(created).toMatchObject({
      method: 'POST',
      path: `/repos/${OWNER}/${REPO}/issues/7/comments`,
      route: '/repos/{owner}/{repo}/issues/{issue_number}/comments',
      params: { owner: OWNER, repo: REPO, issue_number: '7' },
      token: TOKEN,
      body: { body: '<!-- gated-deploy:production -->\nStaged.' },
      status: 201,
      outcome: 'handled'
    })
    expect(created?.headers['authorization']).toBe(`token ${TOKEN}`)
    github.assertNoViolations()
  })

  it('shows an edited comment to later reads', async () => {
    const comment = github.state.addComment({ issueNumber: 3, body: 'old' })
    await octokit.rest.issues.updateComment({
      owner: OWNER,
      repo: REPO,
      comment_id: comment.id,
      body: 'new'
    })
    const { data } = await octokit.rest.issues.getComment({
      owner: OWNER,
      repo: REPO,
      comment_id: comment.id
    })
    expect(data.body).toBe('new')
    expect(data.html_url).toContain('/issues/3#issuecomment-')
    expect(data.updated_at > data.created_at).toBe(true)
  })

  it('refuses a comment longer than GitHub allows', async () => {
    const answer = octokit.rest.issues.createComment({
      owner: OWNER,
      repo: REPO,
      issue_number: 7,
      body: 'x'.repeat(65537)
    })
    await expect(answer).rejects.toMatchObject({ status: 422 })
    expect(github.state.commentsOn(7)).toHaveLength(0)
  })

  it('answers 404 to an unknown path and records it as a violation', async () => {
    const answer = await call('GET', `/repos/o/r/nonexistent-thing?x=1`)

    expect(answer.status).toBe(404)
    expect(answer.body['message']).toBe('Not Found')
    expect(github.violations).toEqual([
      {
        method: 'GET',
        path: '/repos/o/r/nonexistent-thing',
        reason: 'unknown-path',
        allowedMethods: [],
        names: []
      }
    ])
    expect(() => github.assertNoViolations()).toThrow('GET /repos/o/r/nonexistent-thing')
  })

  it('answers 400 to a query parameter the operation does not document, and records it', async () => {
    const path = `/repos/${OWNER}/${REPO}/deployments`
    const answer = await call('GET', `${path}?environment=production&owner=x&payload=%7B%7D`)

    expect(answer.status).toBe(400)
    expect(String(answer.body['stand_in'])).toContain('owner, payload')
    expect(github.violations).toEqual([
      {
        method: 'GET',
        path,
        reason: 'undocumented-query-parameter',
        allowedMethods: [],
        names: ['owner', 'payload']
      }
    ])
    expect(() => github.assertNoViolations()).toThrow(
      /GET \/repos\/octo-org\/octo-app\/deployments \(undocumented-query-parameter: owner, payload\)/
    )
  })

  it('answers 400 to a body property the operation does not document, and writes nothing', async () => {
    const answer = await call('POST', `/repos/${OWNER}/${REPO}/issues/7/comments`, {
      body: 'hello',
      payload: { action: 'opened' },
      eventName: 'push'
    })

    expect(answer.status).toBe(400)
    expect(github.state.commentsOn(7)).toHaveLength(0)
    expect(github.violations.map(v => [v.reason, v.names])).toEqual([
      ['undocumented-body-property', ['eventName', 'payload']]
    ])
    expect(() => github.assertNoViolations()).toThrow('eventName, payload')
  })

  it('refuses any body property on an operation that documents no body', async () => {
    const comment = github.state.addComment({ issueNumber: 7, body: 'keep me' })
    const path = `/repos/${OWNER}/${REPO}/issues/comments/${comment.id}`
    const answer = await call('DELETE', path, { sha: SHA })

    expect(answer.status).toBe(400)
    expect(github.state.commentsOn(7)).toHaveLength(1)
    expect(github.violations.map(v => [v.reason, v.names])).toEqual([
      ['undocumented-body-property', ['sha']]
    ])
  })

  it('accepts every documented name: the deployment list filters and pages', async () => {
    const one = github.state.addDeployment({ ref: 'main', sha: SHA, environment: 'production' })
    github.state.addDeployment({ ref: 'main', sha: SHA, environment: 'staging' })
    github.state.addDeployment({ ref: 'v2', environment: 'production', task: 'deploy:migrations' })
    const list = async (query: string): Promise<unknown[]> => {
      const answer = await fetch(`${github.url}/repos/${OWNER}/${REPO}/deployments?${query}`)
      expect(answer.status).toBe(200)
      return (await answer.json()) as unknown[]
    }
    const ids = async (query: string): Promise<unknown[]> =>
      (await list(query)).map(d => (d as { id: unknown }).id)

    expect(await ids(`sha=${SHA}&environment=production`)).toEqual([one.id])
    expect(await ids('ref=v2')).toHaveLength(1)
    expect(await ids('task=deploy:migrations')).toHaveLength(1)
    expect(await ids('per_page=2&page=2')).toHaveLength(1)
    expect(await ids('per_page=2&page=1')).toHaveLength(2)
    github.assertNoViolations()
  })

  it('rejects a method the description does not define for a real path', async () => {
    const answer = await call('DELETE', `/repos/${OWNER}/${REPO}/pulls/7`)

    expect(answer.status).toBe(404)
    expect(github.violations).toHaveLength(1)
    expect(github.violations[0]?.reason).toBe('method-not-in-description')
    expect([...(github.violations[0]?.allowedMethods ?? [])].sort()).toEqual(['GET', 'PATCH'])
    expect(() => github.assertNoViolations()).toThrow(
      /DELETE \/repos\/octo-org\/octo-app\/pulls\/7/
    )
  })

  it('answers 501 to a valid operation without a handler, without calling it a violation', async () => {
    const answer = await call('GET', `/repos/${OWNER}/${REPO}/branches`)

    expect(answer.status).toBe(501)
    expect(answer.body['message']).toContain('repos/list-branches')
    expect(github.unhandled.map(r => r.operationId)).toEqual(['repos/list-branches'])
    expect(github.violations).toHaveLength(0)
  })

  it('accepts the GHES /api/v3 prefix and pages with links under it', async () => {
    github.state.addDeployment({ ref: 'main' })
    github.state.addDeployment({ ref: 'main' })
    const ghes = getOctokit(TOKEN, { baseUrl: `${github.url}/api/v3` })
    const { data: repo } = await ghes.rest.repos.get({ owner: OWNER, repo: REPO })
    const page = await ghes.rest.repos.listDeployments({ owner: OWNER, repo: REPO, per_page: 1 })

    expect(repo.full_name).toBe(`${OWNER}/${REPO}`)
    expect(github.requests[0]).toMatchObject({ prefix: '/api/v3', operationId: 'repos/get' })
    expect(page.headers.link).toContain(`<${github.url}/api/v3/repos/${OWNER}/${REPO}/deployments?`)
  })

  it('applies a registered override, only as many times as asked', async () => {
    github.respond('issues/create-comment', { status: 500, times: 1 })
    const args = { owner: OWNER, repo: REPO, issue_number: 7, body: 'hi' }

    await expect(octokit.rest.issues.createComment(args)).rejects.toMatchObject({ status: 500 })
    const { status } = await octokit.rest.issues.createComment(args)

    expect(status).toBe(201)
    expect(github.requestsTo('issues/create-comment').map(r => [r.status, r.outcome])).toEqual([
      [500, 'overridden'],
      [201, 'handled']
    ])
    expect(github.state.commentsOn(7)).toHaveLength(1)
  })

  it('lets an override wrap the built-in answer and be addressed by method and path', async () => {
    github.on('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', ({ next }) => {
      const answer = next()
      return { ...answer, headers: { 'x-wrapped': 'yes' } }
    })
    const { headers } = await octokit.rest.issues.createComment({
      owner: OWNER,
      repo: REPO,
      issue_number: 2,
      body: 'hi'
    })
    expect(headers['x-wrapped']).toBe('yes')
    expect(github.state.commentsOn(2)).toHaveLength(1)
    expect(() => github.on('issues/create-commment', () => ({ status: 200 }))).toThrow(
      /not an operation/
    )
  })

  it('pages deployments newest first with a Link header like GitHub', async () => {
    for (let i = 1; i <= 5; i++) {
      await octokit.rest.repos.createDeployment({
        owner: OWNER,
        repo: REPO,
        ref: `${i}`.repeat(40),
        environment: 'production',
        auto_merge: false,
        required_contexts: []
      })
    }
    const first = await call('GET', `/repos/${OWNER}/${REPO}/deployments?per_page=2`)
    const all = await octokit.paginate(octokit.rest.repos.listDeployments, {
      owner: OWNER,
      repo: REPO,
      per_page: 2
    })

    expect(first.link).toBe(
      `<${github.url}/repos/${OWNER}/${REPO}/deployments?per_page=2&page=2>; rel="next", ` +
        `<${github.url}/repos/${OWNER}/${REPO}/deployments?per_page=2&page=3>; rel="last"`
    )
    expect(all.map(d => d.sha[0])).toEqual(['5', '4', '3', '2', '1'])
    expect(github.requestsTo('repos/list-deployments').map(r => r.query['page'])).toEqual([
      undefined,
      undefined,
      '2',
      '3'
    ])
    expect(github.requestsTo('repos/create-deployment')[0]?.body).toMatchObject({
      auto_merge: false,
      required_contexts: []
    })
  })

  it('records deployment statuses and marks earlier successes inactive', async () => {
    const create = async (ref: string): Promise<number> => {
      const { data } = await octokit.rest.repos.createDeployment({
        owner: OWNER,
        repo: REPO,
        ref,
        environment: 'pr-7',
        auto_merge: false,
        required_contexts: []
      })
      if (!('id' in data)) throw new Error('deployment was not created')
      await octokit.rest.repos.createDeploymentStatus({
        owner: OWNER,
        repo: REPO,
        deployment_id: data.id,
        state: 'success',
        environment_url: 'https://pr-7.example.test'
      })
      return data.id
    }
    const older = await create(SHA)
    const newer = await create('b'.repeat(40))

    const { data: statuses } = await octokit.rest.repos.listDeploymentStatuses({
      owner: OWNER,
      repo: REPO,
      deployment_id: older
    })
    expect(statuses.map(s => s.state)).toEqual(['inactive', 'success'])
    expect(github.state.statusesOf(newer).map(s => s.state)).toEqual(['success'])
    const bad = call('POST', `/repos/${OWNER}/${REPO}/deployments/${newer}/statuses`, {
      state: 'done'
    })
    await expect(bad).resolves.toMatchObject({ status: 422 })
  })

  it('reports seeded collaborator permissions the way GitHub does', async () => {
    github.state.setRole('alice', 'maintain')
    const level = async (username: string): Promise<[string, string | undefined]> => {
      const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({
        owner: OWNER,
        repo: REPO,
        username
      })
      return [data.permission, data.role_name]
    }
    expect(await level('alice')).toEqual(['write', 'maintain'])
    expect(await level('mallory')).toEqual(['read', 'read'])
    expect(await level(OWNER)).toEqual(['admin', 'admin'])
  })

  it('serves seeded pull requests, also by commit', async () => {
    github.state.addPull({
      number: 12,
      head: { sha: SHA, ref: 'feature', repository: 'forker/octo-app' },
      merged: true,
      state: 'closed',
      mergeCommitSha: 'c'.repeat(40)
    })
    const { data: pull } = await octokit.rest.pulls.get({
      owner: OWNER,
      repo: REPO,
      pull_number: 12
    })
    const { data: pulls } = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({
      owner: OWNER,
      repo: REPO,
      commit_sha: 'c'.repeat(40)
    })

    expect(pull.head).toMatchObject({
      sha: SHA,
      ref: 'feature',
      repo: { full_name: 'forker/octo-app', fork: true }
    })
    expect(pulls.map(p => p.number)).toEqual([12])
    await expect(
      octokit.rest.pulls.get({ owner: OWNER, repo: REPO, pull_number: 13 })
    ).rejects.toMatchObject({ status: 404 })
  })

  it('reacts to comments once per reaction and identity', async () => {
    const comment = github.state.addComment({ issueNumber: 7, body: '/deploy', user: 'alice' })
    const react = (content: 'eyes' | 'rocket') =>
      octokit.rest.reactions.createForIssueComment({
        owner: OWNER,
        repo: REPO,
        comment_id: comment.id,
        content
      })
    expect((await react('eyes')).status).toBe(201)
    expect((await react('eyes')).status).toBe(200)
    expect((await react('rocket')).status).toBe(201)

    const { data } = await octokit.rest.issues.getComment({
      owner: OWNER,
      repo: REPO,
      comment_id: comment.id
    })
    expect(data.reactions).toMatchObject({ total_count: 2, eyes: 1, rocket: 1 })
  })

  it('creates issues numbered after existing ones and names the token identity', async () => {
    github.state.addPull({ number: 40, head: { sha: SHA } })
    github.state.setIdentity({ login: 'deploy-app[bot]', id: 99, type: 'Bot' })
    const { data: issue } = await octokit.rest.issues.create({
      owner: OWNER,
      repo: REPO,
      title: 'Approve release',
      labels: ['gated-deploy']
    })
    const { data: me } = await octokit.rest.users.getAuthenticated()

    expect(issue.number).toBe(41)
    expect(issue.user?.login).toBe('deploy-app[bot]')
    expect(me).toMatchObject({ login: 'deploy-app[bot]', id: 99, type: 'Bot' })
  })

  it('refuses writes without a token, and a wrong token when one is required', async () => {
    const anonymous = await fetch(`${github.url}/repos/${OWNER}/${REPO}/issues/7/comments`, {
      method: 'POST',
      body: JSON.stringify({ body: 'hi' })
    })
    expect(anonymous.status).toBe(401)

    const strict = await startGitHubStandIn({ token: 'right' })
    try {
      const wrong = getOctokit('wrong', { baseUrl: strict.url })
      await expect(wrong.rest.users.getAuthenticated()).rejects.toMatchObject({ status: 401 })
      expect(strict.requests[0]?.outcome).toBe('unauthorized')
    } finally {
      await strict.close()
    }
  })

  it('forgets requests, violations, overrides and state on reset', async () => {
    github.state.addComment({ issueNumber: 1, body: 'x' })
    github.respond('repos/get', { status: 403 })
    await call('GET', '/nope')
    github.reset()

    expect([github.requests, github.violations, github.state.commentsOn(1)]).toEqual([[], [], []])
    expect((await call('GET', `/repos/${OWNER}/${REPO}`)).status).toBe(200)
  })

  it('only has built-in handlers for operations GitHub publishes', () => {
    const routes = RouteTable.load()
    const unknown = Object.keys(BUILT_IN_HANDLERS).filter(id => routes.find(id) === undefined)
    expect(unknown).toEqual([])
    expect(Object.keys(BUILT_IN_HANDLERS).length).toBeGreaterThan(20)
  })
})
