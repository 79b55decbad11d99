/**
 * abandon.sh under dash and busybox sh: removes this run's partial release, and its stored
 * release only when asked and never when it is live; records the failure and unlocks. A failed
 * step stops it with the lock still held.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { EXIT } from '../../src/deploy/program.js'
import {
  historyLine,
  historyOf,
  holdLock,
  layout,
  liveOf,
  locked,
  makeLive,
  PROGRAMS,
  put,
  releaseName,
  releasesOf,
  Sandbox,
  SHELLS,
  storeRelease,
  type Run
} from './harness.js'

const FAILED = historyLine('failure')

describe.each(SHELLS)('abandon.sh under $name', shell => {
  let box: Sandbox
  let remote: string
  beforeEach(() => {
    box = new Sandbox(shell)
    remote = box.remote
    layout(remote)
    holdLock(remote)
  })
  afterEach(() => box.remove())

  const abandon = (release: string, mode: 'remove' | 'keep'): Promise<Run> =>
    box.run(PROGRAMS.abandon, [remote, release, mode, FAILED])
  const manifestOf = (id: string): string =>
    path.join(remote, '.gated-deploy', 'releases', `${id}.json`)

  it('removes the partial release, keeps a stored one, records the failure and unlocks', async () => {
    const one = storeRelease(remote, 1)
    const two = storeRelease(remote, 2)
    put(path.join(remote, 'releases', `${two}.partial`, 'deep', 'a.txt'), 'half\n')
    const run = await abandon(two, 'keep')
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    expect(run.output.toString('utf8')).toBe('')
    expect(releasesOf(remote)).toEqual([one, two])
    expect(historyOf(remote)).toEqual([FAILED])
    expect(locked(remote)).toBe(false)
  })

  it('removes the stored release and its manifest when asked', async () => {
    const one = storeRelease(remote, 1)
    const two = storeRelease(remote, 2)
    makeLive(remote, one)
    const run = await abandon(two, 'remove')
    expect(run.code).toBe(0)
    expect(releasesOf(remote)).toEqual([one])
    expect(existsSync(manifestOf(two))).toBe(false)
    expect(existsSync(manifestOf(one))).toBe(true)
    expect(historyOf(remote)).toEqual([FAILED])
    expect(locked(remote)).toBe(false)
  })

  it('never removes the live release', async () => {
    const one = storeRelease(remote, 1)
    makeLive(remote, one)
    const run = await abandon(one, 'remove')
    expect(run.code).toBe(0)
    expect(releasesOf(remote)).toEqual([one])
    expect(existsSync(manifestOf(one))).toBe(true)
    expect(liveOf(remote)).toBe(one)
    expect(locked(remote)).toBe(false)
  })

  it('succeeds when there is nothing of the release to remove', async () => {
    const run = await abandon(releaseName(5), 'remove')
    expect(run.code).toBe(0)
    expect(historyOf(remote)).toEqual([FAILED])
    expect(locked(remote)).toBe(false)
  })

  it('stops with the lock held when the failure cannot be recorded', async () => {
    const two = releaseName(2)
    mkdirSync(path.join(remote, '.gated-deploy', 'history.jsonl'))
    put(path.join(remote, 'releases', `${two}.partial`, 'a.txt'), 'half\n')
    const run = await abandon(two, 'keep')
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain('cannot write .gated-deploy/history.jsonl')
    expect(existsSync(path.join(remote, 'releases', `${two}.partial`))).toBe(false)
    expect(locked(remote)).toBe(true)
  })
})
