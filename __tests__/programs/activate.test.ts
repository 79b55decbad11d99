/**
 * activate.sh under dash and busybox sh: switches `current` between the hooks, reports what it
 * replaced, refuses a release that is not there, leaves `current` as it was when a hook fails,
 * stores the staged release first and prunes and unlocks after when asked, and records each step.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs'
import path from 'node:path'
import { prunedIn } from '../../src/deploy/finish/finish.js'
import { EXIT, MARK } from '../../src/deploy/program.js'
import { releaseOrUndefined } from '../../src/deploy/trust.js'
import {
  commitOf,
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

const SWITCHED = historyLine('activate')
const BACK = historyLine('rollback-after-failed-hook')
const STORED = historyLine('stored')

/** The release activate.ts reads as replaced. */
const replacedIn = (run: Run): string | undefined =>
  releaseOrUndefined(
    new RegExp(`^${MARK.GD_REPLACED} (\\S*)$`, 'm').exec(run.output.toString('utf8'))?.[1]
  )

describe.each(SHELLS)('activate.sh under $name', shell => {
  let box: Sandbox
  let remote: string
  beforeEach(() => {
    box = new Sandbox(shell)
    remote = box.remote
    layout(remote)
    holdLock(remote)
  })
  afterEach(() => box.remove())

  const previousOf = (): string | undefined => {
    const file = path.join(remote, '.gated-deploy', 'previous')
    return existsSync(file) ? readFileSync(file, 'utf8') : undefined
  }

  const activate = (
    release: string,
    options: {
      before?: string
      after?: string
      stored?: string
      keep?: number
      stdin?: string
    } = {}
  ): Promise<Run> =>
    box.run(
      PROGRAMS.activate,
      [
        remote,
        release,
        commitOf(7),
        options.before ?? '',
        options.after ?? '',
        options.stored ?? '',
        SWITCHED,
        BACK,
        options.keep === undefined ? '' : String(options.keep)
      ],
      options.stdin === undefined ? {} : { stdin: options.stdin }
    )

  it('switches current to a stored release and reports the one it replaced', async () => {
    const [one, two] = [1, 2].map(n => storeRelease(remote, n))
    makeLive(remote, one ?? '')
    const run = await activate(two ?? '')
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    expect(replacedIn(run)).toBe(one)
    expect(liveOf(remote)).toBe(two)
    expect(previousOf()).toBe(`${one ?? ''}\n`)
    expect(historyOf(remote)).toEqual([SWITCHED])
    expect(readdirSync(remote)).not.toContain('current.gd-new')
    expect(locked(remote)).toBe(true) // no keep: another host may still need switching back
  })

  it('activates a first release with nothing to replace', async () => {
    const one = storeRelease(remote, 1)
    const run = await activate(one)
    expect(run.code).toBe(0)
    expect(run.lines).toContain(`${MARK.GD_REPLACED} `)
    expect(replacedIn(run)).toBeUndefined()
    expect(liveOf(remote)).toBe(one)
    expect(previousOf()).toBeUndefined()
  })

  it('refuses a release that is not there, changing nothing', async () => {
    const one = storeRelease(remote, 1)
    makeLive(remote, one)
    const run = await activate(releaseName(2))
    expect(run.code).toBe(EXIT.EXIT_NOT_STAGED)
    expect(run.error).toBe(`release ${releaseName(2)} is not staged here`)
    expect(liveOf(remote)).toBe(one)
    expect(historyOf(remote)).toEqual([])
  })

  it('runs before-activate in the new release with its variables, and stops when it fails', async () => {
    const [one, two] = [1, 2].map(n => storeRelease(remote, n))
    makeLive(remote, one ?? '')
    const before =
      'echo "in $PWD: $RELEASE $SHA $RELEASE_PATH $PREVIOUS_RELEASE"\nfalse\necho "went on"'
    const run = await activate(two ?? '', { before })
    expect(run.code).toBe(EXIT.EXIT_BEFORE_ACTIVATE)
    const dir = path.join(remote, 'releases', two ?? '')
    expect(run.stderr).toContain('before-activate on ')
    expect(run.stderr).toContain(`in ${dir}: ${two ?? ''} ${commitOf(7)} ${dir} ${one ?? ''}`)
    expect(run.stderr).not.toContain('went on')
    expect(liveOf(remote)).toBe(one)
    expect(previousOf()).toBeUndefined()
    expect(historyOf(remote)).toEqual([])
  })

  it('switches back to the previous release when after-activate fails', async () => {
    const [one, two] = [1, 2].map(n => storeRelease(remote, n))
    makeLive(remote, one ?? '')
    const run = await activate(two ?? '', { after: 'echo "checking $RELEASE"\nexit 4' })
    expect(run.code).toBe(EXIT.EXIT_AFTER_ACTIVATE)
    expect(run.stderr).toContain(`after-activate on `)
    expect(run.stderr).toContain(`checking ${two ?? ''}`)
    expect(liveOf(remote)).toBe(one)
    expect(historyOf(remote)).toEqual([SWITCHED, BACK])
    expect(locked(remote)).toBe(true)
  })

  it('removes current when after-activate fails on a first release', async () => {
    const one = storeRelease(remote, 1)
    const run = await activate(one, { after: 'false' })
    expect(run.code).toBe(EXIT.EXIT_AFTER_ACTIVATE)
    expect(liveOf(remote)).toBeUndefined()
    expect(readdirSync(remote)).not.toContain('current')
    expect(historyOf(remote)).toEqual([SWITCHED, BACK])
  })

  // Switching back must leave the record of the previous release as it was: otherwise the
  // release before the live one loses its protection from pruning, and a rollback to "the
  // previous release" finds the live one.
  it('keeps the recorded previous release when after-activate fails', async () => {
    const [one, two, three] = [1, 2, 3].map(n => storeRelease(remote, n))
    makeLive(remote, two ?? '')
    put(path.join(remote, '.gated-deploy', 'previous'), `${one ?? ''}\n`)
    const run = await activate(three ?? '', { after: 'false' })
    expect(run.code).toBe(EXIT.EXIT_AFTER_ACTIVATE)
    expect(liveOf(remote)).toBe(two)
    expect(previousOf()).toBe(`${one ?? ''}\n`)
  })

  it('stores the staged release with its manifest from stdin before switching', async () => {
    const one = storeRelease(remote, 1)
    makeLive(remote, one)
    const two = releaseName(2)
    put(path.join(remote, 'releases', `${two}.partial`, 'index.html'), 'two\n')
    const manifest = JSON.stringify({ version: 1, release: two, note: "it's $(x)" })
    const run = await activate(two, { stored: STORED, stdin: manifest })
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    expect(releasesOf(remote)).toEqual([one, two])
    expect(
      readFileSync(path.join(remote, '.gated-deploy', 'releases', `${two}.json`), 'utf8')
    ).toBe(manifest)
    expect(readdirSync(path.join(remote, '.gated-deploy', 'releases'))).toEqual([
      `${one}.json`,
      `${two}.json`
    ])
    expect(liveOf(remote)).toBe(two)
    expect(historyOf(remote)).toEqual([STORED, SWITCHED])
  })

  it('stops when the staged release cannot be stored, switching nothing', async () => {
    const one = storeRelease(remote, 1)
    makeLive(remote, one)
    const two = releaseName(2)
    const run = await activate(two, { stored: STORED, stdin: '{}' })
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain(`cannot rename releases/${two}.partial into place`)
    expect(run.output.toString('utf8')).not.toContain(MARK.GD_REPLACED)
    expect(liveOf(remote)).toBe(one)
    expect(historyOf(remote)).toEqual([])
  })

  it('prunes to keep, never the live or the previous release, and unlocks', async () => {
    const ids = [1, 2, 3, 4, 5].map(n => storeRelease(remote, n))
    const [one, two, three, four, five] = ids
    makeLive(remote, three ?? '')
    put(path.join(remote, '.gated-deploy', 'previous'), `${two ?? ''}\n`)
    mkdirSync(path.join(remote, 'releases', `${releaseName(6)}.partial`))
    const run = await activate(five ?? '', { keep: 1 })
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    // 3 became the previous release; 5 is live.
    expect(prunedIn(run.output.toString('utf8'))).toEqual([one, two, four])
    expect(releasesOf(remote)).toEqual([three, five, `${releaseName(6)}.partial`])
    expect(readdirSync(path.join(remote, '.gated-deploy', 'releases')).sort()).toEqual([
      `${three ?? ''}.json`,
      `${five ?? ''}.json`
    ])
    expect(locked(remote)).toBe(false)
    expect(historyOf(remote)).toEqual([SWITCHED])
  })

  it('never prunes the live release when an old one is activated', async () => {
    const [one, two, three, four] = [1, 2, 3, 4].map(n => storeRelease(remote, n))
    makeLive(remote, four ?? '')
    const run = await activate(one ?? '', { keep: 1 })
    expect(run.code).toBe(0)
    expect(prunedIn(run.output.toString('utf8'))).toEqual([two, three])
    expect(releasesOf(remote)).toEqual([one, four])
    expect(liveOf(remote)).toBe(one)
  })

  it('keeps the lock and prunes nothing when after-activate fails', async () => {
    const [one, two, three] = [1, 2, 3].map(n => storeRelease(remote, n))
    makeLive(remote, two ?? '')
    const run = await activate(three ?? '', { after: 'false', keep: 1 })
    expect(run.code).toBe(EXIT.EXIT_AFTER_ACTIVATE)
    expect(releasesOf(remote)).toEqual([one, two, three])
    expect(locked(remote)).toBe(true)
  })

  it('replaces a current.gd-new link left by a run that died mid-switch', async () => {
    const [one, two] = [1, 2].map(n => storeRelease(remote, n))
    makeLive(remote, one ?? '')
    // A link to a directory: without removing it first, `ln -s` would create the new link inside.
    symlinkSync(`releases/${one ?? ''}`, path.join(remote, 'current.gd-new'))
    const run = await activate(two ?? '')
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    expect(liveOf(remote)).toBe(two)
    expect(readdirSync(remote)).not.toContain('current.gd-new')
    expect(readdirSync(path.join(remote, 'releases', one ?? ''))).not.toContain('current.gd-new')
  })

  it('replaces a dangling current.gd-new link left by a run that died mid-switch', async () => {
    const [one, two] = [1, 2].map(n => storeRelease(remote, n))
    makeLive(remote, one ?? '')
    symlinkSync('releases/gone', path.join(remote, 'current.gd-new'))
    const run = await activate(two ?? '')
    expect(run.error).toBe('no error output')
    expect(liveOf(remote)).toBe(two)
    expect(readdirSync(remote)).not.toContain('current.gd-new')
  })

  it('stops naming the step when current cannot be switched, leaving it as it was', async () => {
    const [one, two] = [1, 2].map(n => storeRelease(remote, n))
    makeLive(remote, one ?? '')
    put(path.join(remote, 'current.gd-new', 'left-over'), 'a directory in the way\n')
    const run = await activate(two ?? '', { keep: 1 })
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain('cannot remove current.gd-new')
    expect(liveOf(remote)).toBe(one)
    expect(historyOf(remote)).toEqual([])
    expect(locked(remote)).toBe(true)
  })
})
