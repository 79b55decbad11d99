/** The in-run approval wait, against a five-method fake of the GitHub side. */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import type { GateApi, IssueComment, Reaction } from '../../src/github/gate-api.js'
import { waitForApproval, type WaitOptions } from '../../src/gate/wait.js'

const SINCE = new Date('2024-05-01T10:00:00Z')
const LATER = '2024-05-01T10:01:00Z'
const EVEN_LATER = '2024-05-01T10:02:00Z'

type Polled = IssueComment & { updatedAt?: string }

function fakeApi(polls: Polled[][]): { api: GateApi; reactions: [number, Reaction][] } {
  const reactions: [number, Reaction][] = []
  let poll = 0
  const api: GateApi = {
    permission: () => Promise.resolve('write'),
    pull: () => Promise.reject(new Error('not used')),
    react: (id, reaction) => {
      reactions.push([id, reaction])
      return Promise.resolve()
    },
    comment: () => Promise.resolve(),
    commentsSince: () => Promise.resolve(polls[Math.min(poll++, polls.length - 1)] ?? []),
    openIssue: () => Promise.resolve(1),
    pullForCommit: () => Promise.resolve(undefined)
  }
  return { api, reactions }
}

function comment(id: number, body: string, times: { updatedAt?: string } = {}): Polled {
  return {
    id,
    body,
    login: 'maintainer',
    userType: 'User',
    createdAt: LATER,
    updatedAt: times.updatedAt ?? LATER
  }
}

const options: WaitOptions = {
  issueNumber: 7,
  since: SINCE,
  command: '/deploy',
  timeoutMs: 60_000,
  approvers: [],
  allowSelfApproval: true,
  author: 'octocat',
  sleep: () => Promise.resolve()
}

beforeEach(() => {
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
})
afterEach(() => {
  jest.restoreAllMocks()
})

describe('waitForApproval', () => {
  it('approves on a new /deploy comment that was never edited', async () => {
    const { api, reactions } = fakeApi([[comment(1, '/deploy', { updatedAt: LATER })]])
    expect(await waitForApproval(api, options)).toEqual({ login: 'maintainer', commentId: 1 })
    expect(reactions).toEqual([[1, 'eyes']])
  })

  it('ignores a comment edited into /deploy, and approves on a new one after it', async () => {
    const { api, reactions } = fakeApi([
      [comment(1, '/deploy', { updatedAt: EVEN_LATER })],
      [
        comment(1, '/deploy', { updatedAt: EVEN_LATER }),
        { ...comment(2, '/deploy'), createdAt: EVEN_LATER, updatedAt: EVEN_LATER }
      ]
    ])
    const writes: string[] = []
    jest
      .spyOn(process.stdout, 'write')
      .mockImplementation(chunk => (writes.push(String(chunk)), true))
    expect(await waitForApproval(api, options)).toEqual({ login: 'maintainer', commentId: 2 })
    expect(reactions).toEqual([
      [1, 'confused'],
      [2, 'eyes']
    ])
    expect(writes.join('')).toContain('an edited comment never counts; post a new comment')
  })

  it('times out when the only approval was edited', async () => {
    let now = SINCE.getTime()
    jest.spyOn(Date, 'now').mockImplementation(() => now)
    const { api } = fakeApi([[comment(1, '/deploy', { updatedAt: EVEN_LATER })]])
    const result = await waitForApproval(api, {
      ...options,
      timeoutMs: 10_000,
      sleep: ms => {
        now += ms
        return Promise.resolve()
      }
    })
    expect(result).toBeUndefined()
  })
})
