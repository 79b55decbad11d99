/** denied: the refusal a run reports, one sentence with one full stop whatever the reason ends with. */
import { describe, expect, it } from '@jest/globals'
import { denied, type RunResult } from '../../src/result.js'

const RESULT = { status: 'tested', sha: 'a'.repeat(40) } as const satisfies Partial<RunResult>

describe('denied', () => {
  it.each([
    [
      'the approval is stale; let the new build stage first.',
      'Refused: the approval is stale; let the new build stage first.'
    ],
    ['only maintainers may approve', 'Refused: only maintainers may approve.']
  ])('ends "%s" with exactly one full stop', (reason, failure) => {
    const result = denied(RESULT as unknown as RunResult, reason)
    expect(result.failure).toBe(failure)
    expect(result.status).toBe('denied')
    expect(result.reason).toBe(reason)
  })
})
