/**
 * The delivery-metrics history is read while the deploy runs (issue 14), before the run's own
 * deployment is final: its outcome is added to what GitHub answered.
 */
import { describe, expect, it } from '@jest/globals'
import {
  withOwnOutcomes,
  type HistoryEntry,
  type OwnOutcome
} from '../../src/github/deployment-history.js'
import { computeDora } from '../../src/report/dora.js'

const NOW = new Date('2024-06-30T12:00:00Z')

function entry(id: number, day: number, states: readonly string[]): HistoryEntry {
  const created = `2024-06-${String(day).padStart(2, '0')}T10:00:00Z`
  return {
    id,
    sha: String(id).padStart(40, '0'),
    createdAt: created,
    statuses: states.map((state, i) => ({
      state,
      createdAt: `2024-06-${String(day).padStart(2, '0')}T10:0${i + 1}:00Z`
    })),
    commitTime: `2024-06-${String(day).padStart(2, '0')}T09:00:00Z`,
    rollback: false
  }
}

const OWN: OwnOutcome = {
  id: 3,
  sha: '3'.padStart(40, '0'),
  rollback: false,
  state: 'success',
  at: '2024-06-30T11:00:00.000Z'
}

describe('withOwnOutcomes', () => {
  it('ends the run’s own deployment, read while in progress, with its final status', () => {
    const history = [entry(3, 30, ['in_progress']), entry(2, 20, ['in_progress', 'success'])]
    const patched = withOwnOutcomes(history, [{ ...OWN, at: '2024-06-30T10:05:00.000Z' }])
    expect(patched[0]?.statuses.map(s => s.state)).toEqual(['in_progress', 'success'])
    expect(patched[1]).toBe(history[1])
    // Two changes, both live: the run's own counts as it did when the history was read last.
    const dora = computeDora(patched, NOW)
    expect(dora).toMatchObject({ deployments: 2, finishedChanges: 2, failedChanges: 0 })
    expect(computeDora(history, NOW)).toHaveProperty('insufficient')
  })

  it('puts the final status last when GitHub’s clock is ahead of the runner’s', () => {
    // GitHub stamped in_progress at 10:01; the runner's clock says the switch was at 10:00:30.
    const history = [entry(3, 30, ['in_progress'])]
    const patched = withOwnOutcomes(history, [{ ...OWN, at: '2024-06-30T10:00:30.000Z' }])
    const statuses = patched[0]?.statuses ?? []
    expect(statuses.map(s => s.state)).toEqual(['in_progress', 'success'])
    expect(Date.parse(statuses[1]?.createdAt ?? '')).toBe(Date.parse('2024-06-30T10:01:00Z'))
  })

  it('adds nothing when the history already shows the final status', () => {
    const history = [entry(3, 30, ['in_progress', 'failure'])]
    expect(withOwnOutcomes(history, [OWN])).toEqual(history)
  })

  it('adds the run’s deployment when the history does not have it', () => {
    const history = [entry(2, 20, ['in_progress', 'success'])]
    const patched = withOwnOutcomes(history, [OWN])
    expect(patched.map(e => e.id)).toEqual([3, 2])
    expect(patched[0]).toEqual({
      id: 3,
      sha: OWN.sha,
      createdAt: OWN.at,
      statuses: [{ state: 'success', createdAt: OWN.at }],
      rollback: false
    })
  })
})
