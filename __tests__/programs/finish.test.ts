/**
 * finish.sh under dash and busybox sh: stores the staged release with its manifest from stdin,
 * prunes to keep (never the live or the previous release) and unlocks; with no arguments it only
 * unlocks. A failed step stops it with the lock still held.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { prunedIn } from '../../src/deploy/finish/finish.js'
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
  snapshot,
  storeRelease,
  type Run
} from './harness.js'

const STORED = historyLine('stored')

describe.each(SHELLS)('finish.sh under $name', shell => {
  let box: Sandbox
  let remote: string
  beforeEach(() => {
    box = new Sandbox(shell)
    remote = box.remote
    layout(remote)
    holdLock(remote)
  })
  afterEach(() => box.remove())

  const finish = (
    options: { release?: string; stored?: string; keep?: number; stdin?: string } = {}
  ): Promise<Run> =>
    box.run(
      PROGRAMS.finish,
      [
        remote,
        options.release ?? '',
        options.stored ?? '',
        options.keep === undefined ? '' : String(options.keep)
      ],
      options.stdin === undefined ? {} : { stdin: options.stdin }
    )

  it('stores the staged release, prunes to keep and unlocks', async () => {
    const [one, two, three] = [1, 2, 3].map(n => storeRelease(remote, n))
    makeLive(remote, three ?? '')
    put(path.join(remote, '.gated-deploy', 'previous'), `${two ?? ''}\n`)
    const four = releaseName(4)
    put(path.join(remote, 'releases', `${four}.partial`, 'index.html'), 'four\n')
    const manifest = JSON.stringify({ version: 1, release: four, note: "it's $(x)" })
    const run = await finish({ release: four, stored: STORED, keep: 2, stdin: manifest })
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    // 2 is the previous release and 3 the live one: only 1 goes.
    expect(prunedIn(run.output.toString('utf8'))).toEqual([one])
    expect(releasesOf(remote)).toEqual([two, three, four])
    expect(
      readFileSync(path.join(remote, '.gated-deploy', 'releases', `${four}.json`), 'utf8')
    ).toBe(manifest)
    expect(readdirSync(path.join(remote, '.gated-deploy', 'releases')).sort()).toEqual(
      [two, three, four].map(id => `${id ?? ''}.json`)
    )
    expect(liveOf(remote)).toBe(three)
    expect(historyOf(remote)).toEqual([STORED])
    expect(locked(remote)).toBe(false)
  })

  it('never prunes the live or the previous release, however old', async () => {
    const [one, two, three, four] = [1, 2, 3, 4].map(n => storeRelease(remote, n))
    makeLive(remote, one ?? '')
    put(path.join(remote, '.gated-deploy', 'previous'), `${two ?? ''}\n`)
    const run = await finish({ keep: 1 })
    expect(run.code).toBe(0)
    expect(prunedIn(run.output.toString('utf8'))).toEqual([three])
    expect(releasesOf(remote)).toEqual([one, two, four])
    expect(locked(remote)).toBe(false)
  })

  it('only unlocks when given nothing to store or prune', async () => {
    ;[1, 2, 3].forEach(n => storeRelease(remote, n))
    makeLive(remote, releaseName(3))
    put(path.join(remote, 'releases', `${releaseName(4)}.partial`, 'x'), 'x')
    const before = snapshot(remote)
    const run = await finish()
    expect(run.code).toBe(0)
    expect(run.output.toString('utf8')).toBe('')
    expect(locked(remote)).toBe(false)
    rmSync(path.join(remote, '.gated-deploy', 'lock'), { recursive: true, force: true })
    expect(snapshot(remote)).toEqual(
      Object.fromEntries(
        Object.entries(before).filter(([p]) => !p.startsWith('.gated-deploy/lock'))
      )
    )
  })

  it('stops with the lock held when the staged release cannot be stored', async () => {
    ;[1, 2, 3].forEach(n => storeRelease(remote, n))
    const four = releaseName(4)
    const run = await finish({ release: four, stored: STORED, keep: 1, stdin: '{}' })
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain(`cannot rename releases/${four}.partial into place`)
    expect(releasesOf(remote)).toEqual([1, 2, 3].map(releaseName))
    expect(historyOf(remote)).toEqual([])
    expect(locked(remote)).toBe(true)
  })
})
