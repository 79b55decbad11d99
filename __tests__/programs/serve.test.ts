/**
 * serve.sh under dash and busybox sh: after lock.sh has staged a release on a server with GNU
 * tar, the same exec takes commands on stdin (store, activate, finish, abandon, detach), so one
 * exec deploys. Fed exactly what the local side sends (the header, the real tar, then command
 * lines), each command must do what the separate programs do, and the end of stdin must clean up
 * without ever removing another run's lock.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildManifest, type Manifest } from '../../src/artifact/manifest.js'
import { prunedIn } from '../../src/deploy/finish/finish.js'
import { parseInspection } from '../../src/deploy/lock/lock.js'
import { EXIT, MARK } from '../../src/deploy/program.js'
import { stageHeader } from '../../src/deploy/stage/stage.js'
import {
  historyLine,
  historyOf,
  layout,
  liveOf,
  locked,
  makeLive,
  PROGRAMS,
  releaseName,
  releasesOf,
  Sandbox,
  SHELLS,
  storeRelease,
  type Run
} from './harness.js'
import { makeTree, tarOf } from './tree.js'

let fixtures: string
let tree: string
let manifest: Manifest
let fullTar: Buffer

beforeAll(async () => {
  fixtures = mkdtempSync(path.join(tmpdir(), 'gd-serve-'))
  tree = path.join(fixtures, 'tree')
  makeTree(tree)
  manifest = await buildManifest({ root: tree, exclude: [], sharedPaths: [] })
  fullTar = await tarOf(tree, manifest.entries)
})
afterAll(() => rmSync(fixtures, { recursive: true, force: true }))

const RELEASE = releaseName(9)
const fail = (text: string): never => {
  throw new Error(text)
}
const SHA = 'b'.repeat(40)
const OWNER = '{"actor":"me","runId":7}'
const MANIFEST = JSON.stringify({ release: RELEASE, note: "a 'manifest' with \\n in it" })

/** The lines of a `store` command, then the manifest's bytes. */
const store = (history = historyLine('stage')): string =>
  `store ${Buffer.byteLength(MANIFEST)}\n${history}\n${MANIFEST}`
/** The lines of an `activate` command. */
const activate = (release: string, hooks: 'hooks' | 'nohooks', keep: string): string =>
  `activate ${release} ${hooks} ${keep}\n${historyLine('activate')}\n${historyLine('back')}\n`

describe.each(SHELLS)('serve.sh, run by lock.sh after staging, under $name', shell => {
  let box: Sandbox
  beforeEach(() => {
    box = new Sandbox(shell)
    layout(box.remote)
  })
  afterEach(() => box.remove())

  /** lock.sh staging RELEASE from the full tar, then the given commands. */
  const serve = (commands: string, hooks: readonly [string, string] = ['', '']): Promise<Run> =>
    box.run(PROGRAMS.lock, [box.remote, OWNER, 'take', RELEASE, SHA, ...hooks], {
      stdin: Buffer.concat([stageHeader(undefined, []), fullTar, Buffer.from(commands)])
    })
  const stored = (id: string): boolean =>
    existsSync(path.join(box.remote, 'releases', id)) &&
    existsSync(path.join(box.remote, '.gated-deploy', 'releases', `${id}.json`))

  it('says it serves, then stores, switches, prunes and unlocks in the one exec', async () => {
    const old = [1, 2, 3].map(n => storeRelease(box.remote, n))
    makeLive(box.remote, old[2] ?? '')
    const run = await serve(store() + activate(RELEASE, 'hooks', '2'))
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    expect(run.lines).toContain(MARK.GD_SERVES)
    expect(run.lines).toContain(MARK.GD_STAGED)
    expect(run.lines).toContain(`${MARK.GD_REPLACED} ${old[2]}`)
    expect(liveOf(box.remote)).toBe(RELEASE)
    // The manifest is stored byte for byte; the partial is now the release.
    expect(
      readFileSync(path.join(box.remote, '.gated-deploy', 'releases', `${RELEASE}.json`), 'utf8')
    ).toBe(MANIFEST)
    expect(existsSync(path.join(box.remote, 'releases', `${RELEASE}.partial`))).toBe(false)
    expect(prunedIn(run.output.toString('utf8'))).toEqual([old[0], old[1]])
    expect(releasesOf(box.remote)).toEqual([old[2], RELEASE])
    expect(readFileSync(path.join(box.remote, '.gated-deploy', 'previous'), 'utf8')).toBe(
      `${old[2]}\n`
    )
    expect(historyOf(box.remote)).toEqual([historyLine('stage'), historyLine('activate')])
    expect(locked(box.remote)).toBe(false)
    // What it said before GD-READY still reads as the inspection, the base's manifest included.
    const inspection = parseInspection(run.lines.slice(0, run.lines.indexOf(MARK.GD_READY)), fail)
    expect(inspection.base?.release).toBe(old[2])
    expect(inspection.current).toBe(old[2])
  })

  it('does the same with its text in the command, as OpenSSH servers are sent it', async () => {
    const old = storeRelease(box.remote, 1)
    makeLive(box.remote, old)
    const run = await box.run(PROGRAMS.lock, [box.remote, OWNER, 'take', RELEASE, SHA, '', ''], {
      stdin: Buffer.concat([
        stageHeader(undefined, []),
        fullTar,
        Buffer.from(store() + activate(RELEASE, 'hooks', '5'))
      ]),
      inline: true
    })
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    expect(liveOf(box.remote)).toBe(RELEASE)
    expect(stored(RELEASE)).toBe(true)
    expect(locked(box.remote)).toBe(false)
  })

  it('runs the hooks given to lock.sh with the release in their environment', async () => {
    const hooks = [
      'echo "before $RELEASE $SHA" > "$RELEASE_PATH/../before.txt"',
      'echo "after $PREVIOUS_RELEASE" > "$RELEASE_PATH/../after.txt"'
    ] as const
    const run = await serve(store() + activate(RELEASE, 'hooks', '5'), hooks)
    expect(run.code).toBe(0)
    const read = (name: string): string =>
      readFileSync(path.join(box.remote, 'releases', name), 'utf8')
    expect(read('before.txt')).toBe(`before ${RELEASE} ${SHA}\n`)
    expect(read('after.txt')).toBe('after \n')
  })

  it('answers each command that does not end it with GD-DONE, and goes on to the next', async () => {
    const old = storeRelease(box.remote, 1)
    makeLive(box.remote, old)
    const run = await serve(
      store() + activate(RELEASE, 'hooks', '-') + activate(old, 'nohooks', '-') + 'finish -\n'
    )
    expect(run.code).toBe(0)
    expect(run.lines.filter(l => l === MARK.GD_DONE)).toHaveLength(3)
    // Switched and switched back (as a fleet does when another host failed), then unlocked.
    expect(liveOf(box.remote)).toBe(old)
    expect(stored(RELEASE)).toBe(true)
    expect(locked(box.remote)).toBe(false)
  })

  it('stores a release left for approval, prunes and unlocks on `finish`', async () => {
    const old = [1, 2].map(n => storeRelease(box.remote, n))
    makeLive(box.remote, old[1] ?? '')
    const run = await serve(store() + 'finish 2\n')
    expect(run.code).toBe(0)
    expect(liveOf(box.remote)).toBe(old[1])
    expect(releasesOf(box.remote)).toEqual([old[1], RELEASE])
    expect(locked(box.remote)).toBe(false)
  })

  it('cleans up after a failure on `abandon remove`: no release, the failure recorded, unlocked', async () => {
    const run = await serve(store() + `abandon remove\n${historyLine('failure')}\n`)
    expect(run.code).toBe(0)
    expect(existsSync(path.join(box.remote, 'releases', RELEASE))).toBe(false)
    expect(existsSync(path.join(box.remote, 'releases', `${RELEASE}.partial`))).toBe(false)
    expect(historyOf(box.remote)).toEqual([historyLine('stage'), historyLine('failure')])
    expect(locked(box.remote)).toBe(false)
  })

  it('ends on `detach` with the release staged and the lock held, for execs of their own', async () => {
    const run = await serve('detach\n')
    expect(run.code).toBe(0)
    expect(existsSync(path.join(box.remote, 'releases', `${RELEASE}.partial`))).toBe(true)
    expect(locked(box.remote)).toBe(true)
  })

  it('at the end of stdin removes the partial release and unlocks', async () => {
    const run = await serve('')
    expect(run.code).toBe(0)
    expect(run.lines).toContain(MARK.GD_UNLOCKED)
    expect(existsSync(path.join(box.remote, 'releases', `${RELEASE}.partial`))).toBe(false)
    expect(locked(box.remote)).toBe(false)
  })

  it("at the end of stdin leaves a lock that is no longer this run's", async () => {
    // The hook stands in for another run that broke the lock and took it meanwhile.
    const takeOver = `printf '%s\\n' '{"actor":"other"}' > "$RELEASE_PATH/../../.gated-deploy/lock/owner.json"`
    const run = await serve(store() + activate(RELEASE, 'hooks', '-'), [takeOver, ''])
    expect(run.code).toBe(0)
    expect(liveOf(box.remote)).toBe(RELEASE)
    expect(run.lines).not.toContain(MARK.GD_UNLOCKED)
    expect(locked(box.remote)).toBe(true)
  })

  it('stops at a failed before-activate with `current` unchanged and the lock held', async () => {
    const old = storeRelease(box.remote, 1)
    makeLive(box.remote, old)
    const run = await serve(store() + activate(RELEASE, 'hooks', '5') + 'finish -\n', [
      'exit 4',
      ''
    ])
    expect(run.code).toBe(EXIT.EXIT_BEFORE_ACTIVATE)
    expect(liveOf(box.remote)).toBe(old)
    expect(locked(box.remote)).toBe(true)
  })

  it('refuses a manifest cut short, an unknown command and a bad keep, changing nothing live', async () => {
    const cut = await serve(
      `store ${Buffer.byteLength(MANIFEST) + 10}\n${historyLine('stage')}\n${MANIFEST}`
    )
    expect(cut.code).toBe(EXIT.EXIT_FAILED)
    expect(cut.error).toMatch(/arrived cut short/)
    expect(stored(RELEASE)).toBe(false)
    box.remove()
    box = new Sandbox(shell)
    layout(box.remote)
    const unknown = await serve('rm -rf /\n')
    expect(unknown.code).toBe(EXIT.EXIT_FAILED)
    expect(unknown.error).toMatch(/unknown command: rm/)
    box.remove()
    box = new Sandbox(shell)
    layout(box.remote)
    const keep = await serve(store() + activate(RELEASE, 'hooks', '0;x'))
    expect(keep.code).toBe(EXIT.EXIT_FAILED)
    expect(keep.error).toMatch(/bad number of releases to keep/)
    expect(liveOf(box.remote)).toBeUndefined()
  })
})
