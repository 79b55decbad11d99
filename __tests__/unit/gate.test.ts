/** The gate's decisions without I/O: which intent an event makes, and who may approve. */
import { describe, expect, it } from '@jest/globals'
import { authorize, isApproval } from '../../src/gate/authorize.js'
import { commandOf, decideIntent } from '../../src/gate/intent.js'
import type { Settings } from '../../src/inputs.js'

const gate: Settings['gate'] = {
  approvers: [],
  approvalCommand: '/deploy',
  rollbackCommand: '/rollback',
  approvalTimeoutMs: 0,
  allowSelfApproval: true,
  promote: undefined,
  rollback: undefined
}

function settings(overrides: Partial<Settings> = {}): Settings {
  return {
    mode: 'delivery',
    build: '',
    test: '',
    workingDirectory: '/tmp',
    cache: undefined,
    githubToken: 't',
    ship: {} as NonNullable<Settings['ship']>,
    environment: 'production',
    gate,
    report: {
      comment: 'always',
      environmentUrl: undefined,
      testReport: undefined,
      deploymentRecord: true
    },
    ...overrides
  }
}

function comment(body: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    action: 'created',
    issue: { number: 4, pull_request: { url: 'https://api.github.com/repos/o/r/pulls/4' } },
    comment: { id: 99, body, user: { login: 'alice', type: 'User' } },
    ...extra
  }
}

describe('commandOf', () => {
  it.each([
    ['/deploy', 'deploy'],
    ['  /deploy now please', 'deploy'],
    ['/rollback\nbecause', 'rollback'],
    ['/deployment', undefined],
    ['please /deploy', undefined],
    ['', undefined]
  ])('%j → %s', (body, expected) => {
    expect(commandOf(body, { approval: '/deploy', rollback: '/rollback' })).toBe(expected)
  })
})

describe('decideIntent', () => {
  it('stages in delivery mode and deploys in deployment mode on push', () => {
    expect(decideIntent('push', {}, settings())).toMatchObject({
      kind: 'build',
      ship: true,
      activate: false,
      decision: 'stage'
    })
    expect(decideIntent('push', {}, settings({ mode: 'deployment' }))).toMatchObject({
      activate: true,
      decision: 'deploy'
    })
  })

  it('only builds and tests a fork pull request, whatever the mode', () => {
    const fork = {
      pull_request: {
        head: { repo: { full_name: 'evil/r' } },
        base: { repo: { full_name: 'o/r' } }
      }
    }
    expect(decideIntent('pull_request', fork, settings({ mode: 'deployment' }))).toMatchObject({
      kind: 'build',
      ship: false,
      decision: 'skip'
    })
  })

  it('prefers promote and rollback inputs over the event', () => {
    expect(
      decideIntent('push', {}, settings({ gate: { ...gate, promote: 'abc1234' } }))
    ).toMatchObject({ kind: 'promote', target: 'abc1234', rollback: false })
    expect(
      decideIntent('push', {}, settings({ gate: { ...gate, rollback: 'previous' } }))
    ).toMatchObject({ kind: 'promote', target: 'previous', rollback: true })
  })

  it('turns a new /deploy on a pull request into a comment intent', () => {
    expect(decideIntent('issue_comment', comment('/deploy'), settings())).toEqual({
      kind: 'comment',
      command: 'deploy',
      prNumber: 4,
      commentId: 99,
      commenter: 'alice'
    })
  })

  it.each([
    [
      'an edited comment',
      comment('/deploy', { action: 'edited' }),
      'an edited comment never counts'
    ],
    [
      'a comment on an issue',
      comment('/deploy', { issue: { number: 4 } }),
      'works on pull requests only'
    ],
    [
      'a bot',
      comment('/deploy', {
        comment: { id: 1, body: '/deploy', user: { login: 'dependabot[bot]', type: 'Bot' } }
      }),
      'is a bot'
    ]
  ])('denies %s', (_name, payload, reason) => {
    const intent = decideIntent('issue_comment', payload, settings())
    expect(intent.kind).toBe('deny')
    expect(intent.kind === 'deny' ? intent.reason : '').toContain(reason)
  })

  it('skips every other comment', () => {
    expect(decideIntent('issue_comment', comment('nice work'), settings()).kind).toBe('skip')
    expect(
      decideIntent('issue_comment', comment('/deploy', { action: 'deleted' }), settings()).kind
    ).toBe('skip')
  })
})

describe('authorize', () => {
  const permissions = (role: string) => ({ permission: () => Promise.resolve(role) })

  it.each([
    ['admin', true],
    ['maintain', true],
    ['write', true],
    ['triage', false],
    ['read', false],
    ['none', false]
  ])('with %s permission: %s', async (role, ok) => {
    const verdict = await authorize(permissions(role), {
      login: 'alice',
      approvers: [],
      prAuthor: 'bob',
      allowSelfApproval: true
    })
    expect(verdict.ok).toBe(ok)
  })

  it('uses only the approvers list when one is given, case-insensitively', async () => {
    const admin = permissions('admin')
    expect(
      (
        await authorize(admin, {
          login: 'Alice',
          approvers: ['alice'],
          prAuthor: undefined,
          allowSelfApproval: true
        })
      ).ok
    ).toBe(true)
    expect(
      await authorize(admin, {
        login: 'carol',
        approvers: ['alice'],
        prAuthor: undefined,
        allowSelfApproval: true
      })
    ).toEqual({
      ok: false,
      reason: 'carol is not in `approvers`'
    })
  })

  it('refuses the pull request author when self-approval is off', async () => {
    const verdict = await authorize(permissions('admin'), {
      login: 'bob',
      approvers: [],
      prAuthor: 'bob',
      allowSelfApproval: false
    })
    expect(verdict.ok).toBe(false)
  })

  it('never takes a bot comment as an approval', () => {
    expect(isApproval({ body: '/deploy', login: 'alice', userType: 'User' }, '/deploy')).toBe(true)
    expect(isApproval({ body: '/deploy', login: 'ci[bot]', userType: 'Bot' }, '/deploy')).toBe(
      false
    )
    expect(isApproval({ body: 'ok /deploy', login: 'alice', userType: 'User' }, '/deploy')).toBe(
      false
    )
  })
})
