/** The four DORA keys from a deployment history, checked against figures worked out by hand. */
import { describe, expect, it } from '@jest/globals'
import { computeDora, median, type DeploymentFact } from '../../src/report/dora.js'

const NOW = new Date('2024-06-30T12:00:00Z')
const MIN = 60_000
const HOUR = 60 * MIN

function at(dayHourMinute: string): string {
  return `2024-06-${dayHourMinute}:00Z`
}

let nextId = 1
function deployment(
  created: string,
  statuses: [state: string, time: string][],
  extra: { commit?: string; rollback?: boolean } = {}
): DeploymentFact {
  return {
    id: nextId++,
    sha: `${nextId}`.padStart(40, '0'),
    createdAt: at(created),
    statuses: statuses.map(([state, time]) => ({ state, createdAt: at(time) })),
    ...(extra.commit === undefined ? {} : { commitTime: at(extra.commit) }),
    ...(extra.rollback === undefined ? {} : { rollback: extra.rollback })
  }
}

/**
 * Ten deployments to one environment in June 2024 (times UTC):
 *  D1  10th 10:00  success 10:10                 commit 08:00  lead 130 min
 *  D2  12th 09:00  failure 09:05                 commit 11th 21:00 (never live)
 *  D3  12th 11:00  success 11:05                 commit 10:30  lead 35 min; restores D2: 120 min
 *  D4  15th 14:00  success 14:20, inactive 16th  commit 12:00  lead 140 min
 *  D5  18th 16:00  success 16:10                 commit 15:00  lead 70 min; rolled back by R6
 *  R6  18th 17:00  success 17:30 (rollback)      restores D5: 16:10 → 17:30 = 80 min
 *  D7  20th 10:00  error 10:02                   commit 09:00 (never live)
 *  D8  20th 13:00  in_progress only              unfinished: not counted
 *  D9  21st 09:00  success 09:04                 commit 08:30  lead 34 min; restores D7: 10:02 → 09:04 = 1382 min
 *  D10 29th 12:00  success 12:30                 commit 28th 12:00  lead 1470 min
 *
 * Finished changes: D1 D2 D3 D4 D5 D7 D9 D10 = 8 (R6 is a rollback, D8 unfinished).
 * Failed changes: D2, D5 (rolled back), D7 = 3 → change failure rate 3/8 = 0.375.
 * Live changes: D1 D3 D4 D5 D9 D10 = 6. No older history, so the window runs from D1
 * (10th 10:00) to now (30th 12:00): 482 h = 20.08 days → 6 / (482/168) = 2.0913 a week.
 * Lead times 34 35 70 130 140 1470 → median (70 + 130) / 2 = 100 min.
 * Restores 80 120 1382 → median 120 min.
 */
const HISTORY: DeploymentFact[] = [
  deployment(
    '10T10:00',
    [
      ['in_progress', '10T10:00'],
      ['success', '10T10:10']
    ],
    {
      commit: '10T08:00'
    }
  ),
  deployment(
    '12T09:00',
    [
      ['in_progress', '12T09:00'],
      ['failure', '12T09:05']
    ],
    {
      commit: '11T21:00'
    }
  ),
  deployment(
    '12T11:00',
    [
      ['in_progress', '12T11:00'],
      ['success', '12T11:05']
    ],
    {
      commit: '12T10:30'
    }
  ),
  deployment(
    '15T14:00',
    [
      ['success', '15T14:20'],
      ['inactive', '16T09:00']
    ],
    {
      commit: '15T12:00'
    }
  ),
  deployment('18T16:00', [['success', '18T16:10']], { commit: '18T15:00' }),
  deployment(
    '18T17:00',
    [
      ['in_progress', '18T17:00'],
      ['success', '18T17:30']
    ],
    {
      rollback: true
    }
  ),
  deployment('20T10:00', [['error', '20T10:02']], { commit: '20T09:00' }),
  deployment('20T13:00', [['in_progress', '20T13:00']], { commit: '20T12:00' }),
  deployment('21T09:00', [['success', '21T09:04']], { commit: '21T08:30' }),
  deployment(
    '29T12:00',
    [
      ['in_progress', '29T12:00'],
      ['success', '29T12:30']
    ],
    {
      commit: '28T12:00'
    }
  )
]

describe('computeDora', () => {
  it('computes the four keys of a seeded history', () => {
    const dora = computeDora(HISTORY, NOW)

    expect(dora).toEqual({
      windowDays: 20,
      deployments: 6,
      deploymentsPerWeek: expect.closeTo((6 * 168) / 482, 6),
      leadTimeMs: 100 * MIN,
      leadTimeSamples: 6,
      changeFailureRate: 0.375,
      failedChanges: 3,
      finishedChanges: 8,
      timeToRestoreMs: 120 * MIN,
      restoreSamples: 3
    })
  })

  it('does not depend on the order the history comes in', () => {
    expect(computeDora([...HISTORY].reverse(), NOW)).toEqual(computeDora(HISTORY, NOW))
  })

  it('spreads deployments over the full 90 days when the history goes back further', () => {
    const old: DeploymentFact = {
      id: 99,
      sha: 'f'.repeat(40),
      createdAt: '2024-03-01T00:00:00Z',
      statuses: []
    }
    const dora = computeDora([old, ...HISTORY], NOW)

    // The same 6 live changes over 90 days: 6 / (90 / 7) = 0.4667 a week; the old one is not counted.
    expect(dora).toMatchObject({ windowDays: 90, deployments: 6, finishedChanges: 8 })
    expect('deploymentsPerWeek' in dora && dora.deploymentsPerWeek).toBeCloseTo(6 / (90 / 7), 6)
  })

  it('counts at least a week for a young history', () => {
    const young = [
      deployment('30T08:00', [['success', '30T08:10']]),
      deployment('30T10:00', [['success', '30T10:05']])
    ]
    // Two deployments 4 hours ago: 2 a week, not 2 per 4 hours; no commit times, no failures.
    expect(computeDora(young, NOW)).toMatchObject({
      windowDays: 7,
      deploymentsPerWeek: 2,
      leadTimeMs: undefined,
      leadTimeSamples: 0,
      changeFailureRate: 0,
      timeToRestoreMs: undefined,
      restoreSamples: 0
    })
  })

  it('says clearly when there is not enough history', () => {
    const one = [HISTORY[0], HISTORY[7]].flatMap(d => (d ? [d] : []))

    expect(computeDora(one, NOW)).toEqual({
      insufficient: '1 finished deployment in the last 90 days; the figures need at least 2.'
    })
    expect(computeDora([], NOW)).toEqual({
      insufficient: '0 finished deployments in the last 90 days; the figures need at least 2.'
    })
  })

  it('ignores deployments outside the window', () => {
    // On 26 September the window starts on 28 June: only D10 (29 June) is in it.
    expect(computeDora(HISTORY, new Date('2024-09-26T12:00:00Z'))).toHaveProperty('insufficient')
  })

  it('takes the middle of sorted values as the median', () => {
    expect([median([]), median([3, 1, 2]), median([4, 1, 3, 2])]).toEqual([undefined, 2, 2.5])
    expect(median([HOUR, 5 * HOUR])).toBe(3 * HOUR)
  })
})
