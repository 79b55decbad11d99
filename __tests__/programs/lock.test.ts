/**
 * lock.sh under dash and busybox sh: takes the lock (creating the layout), reports a held one
 * without touching anything, breaks a stale one, cleans partial releases under the lock, and
 * fails naming the path when the remote path cannot be used, never landing anywhere else.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import {
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync
} from 'node:fs'
import path from 'node:path'
import { parseInspection } from '../../src/deploy/lock/lock.js'
import { EXIT, MARK, remotePathArgument } from '../../src/deploy/program.js'
import { parseLockOwner, type LockOwner } from '../../src/deploy/trust.js'
import {
  commitOf,
  makeLive,
  PROGRAMS,
  put,
  releaseName,
  Sandbox,
  SHELLS,
  type Run,
  snapshot,
  storeRelease
} from './harness.js'

const OWNER: LockOwner = {
  runId: '42',
  attempt: 1,
  runUrl: 'https://github.com/o/r/actions/runs/42',
  actor: `o'brien $(touch /tmp/gd-pwned) \`id\` "q"`,
  sha: 'a'.repeat(40),
  release: releaseName(9),
  started: '2024-01-01T12:00:00Z'
}
const OTHER: LockOwner = { ...OWNER, runId: '43', actor: 'someone-else' }

const now = (): number => Math.floor(Date.now() / 1000)

describe('remotePathArgument', () => {
  it('prefixes relative paths with ./ so no command reads them as options', () => {
    expect(remotePathArgument('-P')).toBe('./-P')
    expect(remotePathArgument('app')).toBe('./app')
  })
  it('drops . segments and repeated or trailing slashes', () => {
    expect(remotePathArgument('/srv/./app/')).toBe('/srv/app')
    expect(remotePathArgument('//srv//app')).toBe('/srv/app')
  })
  it('reads a leading ~/ as the home directory', () => {
    expect(remotePathArgument('~/app')).toBe('./app')
    expect(remotePathArgument('~/./deploy/app/')).toBe('./deploy/app')
  })
})

describe.each(SHELLS)('lock.sh under $name', shell => {
  let box: Sandbox
  beforeEach(() => {
    box = new Sandbox(shell)
  })
  afterEach(() => box.remove())

  const lock = (
    remote: string,
    owner: LockOwner = OWNER,
    mode: 'take' | 'break' | 'inspect' = 'take',
    options: Parameters<Sandbox['run']>[2] = {}
  ): Promise<Run> => box.run(PROGRAMS.lock, [remote, JSON.stringify(owner), mode], options)

  it('creates the layout on a first run and takes the lock, with nothing live', async () => {
    const run = await lock(box.remote)
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    // The greeting's "GD-HELD" and "GD-CURRENT" lines are not part of the output.
    expect(run.lines[0]).toBe(MARK.GD_LOCKED)
    expect(run.lines).toContain(`${MARK.GD_CURRENT} `)
    expect(run.lines).toContain(`${MARK.GD_PREVIOUS} `)
    expect(run.lines).toContain(`${MARK.GD_BASE} `)
    for (const dir of ['releases', 'shared', '.gated-deploy/releases', '.gated-deploy/lock']) {
      expect(existsSync(path.join(box.remote, dir))).toBe(true)
    }
    const lockDir = path.join(box.remote, '.gated-deploy', 'lock')
    expect(readFileSync(path.join(lockDir, 'owner.json'), 'utf8')).toBe(
      JSON.stringify(OWNER) + '\n'
    )
    // The lock's age is the lock directory's own time: nothing else is written for it.
    expect(Math.abs(statSync(lockDir).mtimeMs / 1000 - now())).toBeLessThan(10)
    const warnings: string[] = []
    expect(parseInspection(run.lines, w => warnings.push(w))).toEqual({
      current: undefined,
      previous: undefined,
      base: undefined,
      releases: []
    })
    expect(warnings).toEqual([])
    expect(existsSync('/tmp/gd-pwned')).toBe(false)
  })

  it('reports a held lock with its age and first owner, and changes nothing', async () => {
    expect((await lock(box.remote)).code).toBe(0)
    const lockDir = path.join(box.remote, '.gated-deploy', 'lock')
    utimesSync(lockDir, now() - 300, now() - 300)
    put(path.join(box.remote, 'releases', `${releaseName(5)}.partial`, 'a.txt'), 'half\n')
    const before = snapshot(box.root)
    const run = await lock(box.remote, OTHER)
    expect(run.code).toBe(0)
    const held = /^GD-HELD (\d+)$/.exec(run.lines[0] ?? '')
    expect(run.lines[0]?.startsWith(MARK.GD_HELD + ' ')).toBe(true)
    expect(Number(held?.[1])).toBeGreaterThanOrEqual(300)
    expect(Number(held?.[1])).toBeLessThan(330)
    expect(parseLockOwner(run.lines[1] ?? '')).toEqual(OWNER)
    expect(run.lines).not.toContain(MARK.GD_LOCKED)
    expect(snapshot(box.root)).toEqual(before)
  })

  it('breaks the lock when asked and takes it for the new owner', async () => {
    expect((await lock(box.remote)).code).toBe(0)
    const run = await lock(box.remote, OTHER, 'break')
    expect(run.code).toBe(0)
    expect(run.lines[0]).toBe(MARK.GD_LOCKED)
    const owner = readFileSync(path.join(box.remote, '.gated-deploy', 'lock', 'owner.json'), 'utf8')
    expect(parseLockOwner(owner)).toEqual(OTHER)
  })

  it('removes partial releases left by a dead run, under the lock only', async () => {
    mkdirSync(path.join(box.remote, 'releases'), { recursive: true })
    put(path.join(box.remote, 'releases', `${releaseName(1)}.partial`, 'deep', 'a.txt'), 'x')
    symlinkSync('/etc', path.join(box.remote, 'releases', `${releaseName(2)}.partial`))
    writeFileSync(path.join(box.remote, 'releases', `${releaseName(3)}.partial`), 'a file')
    const kept = storeRelease(box.remote, 4)
    const run = await lock(box.remote)
    expect(run.code).toBe(0)
    expect(Object.keys(snapshot(path.join(box.remote, 'releases')))).toEqual([
      kept,
      `${kept}/index.html`
    ])
    expect(existsSync('/etc/passwd')).toBe(true)
  })

  it('reports the live, previous and base releases with their commits', async () => {
    const [one, two, three] = [1, 2, 3].map(n => storeRelease(box.remote, n))
    mkdirSync(path.join(box.remote, 'releases', releaseName(4))) // no manifest: not complete
    makeLive(box.remote, two ?? '')
    put(path.join(box.remote, '.gated-deploy', 'previous'), `${one ?? ''}\n`)
    const run = await lock(box.remote)
    expect(run.code).toBe(0)
    const warnings: string[] = []
    const inspection = parseInspection(run.lines, w => warnings.push(w))
    expect(warnings).toEqual([])
    expect(inspection.current).toBe(two)
    expect(inspection.previous).toBe(one)
    expect(inspection.releases).toEqual([
      { id: one, sha: commitOf(1) },
      { id: two, sha: commitOf(2) },
      { id: three, sha: commitOf(3) }
    ])
    expect(inspection.base?.release).toBe(three)
    expect(inspection.base?.sha).toBe(commitOf(3))
    expect(inspection.base?.entries.map(e => e.path)).toEqual(['index.html'])
  })

  it('fails naming a remote path that is a file, and changes nothing', async () => {
    put(box.remote, 'not a directory\n')
    const before = snapshot(box.root)
    const run = await lock(box.remote)
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain(box.remote)
    expect(run.error).toContain('not a directory')
    expect(run.lines).not.toContain(MARK.GD_LOCKED)
    expect(snapshot(box.root)).toEqual(before)
  })

  // Root ignores permission bits, so the path that cannot be created lies below a regular file:
  // mkdir -p fails for root too. The old `cd P || { mkdir -p P && cd P; }` went on in HOME here.
  it('fails naming a remote path below a regular file, and deploys nowhere else', async () => {
    put(path.join(box.root, 'srv'), 'a file\n')
    const before = snapshot(box.root)
    const run = await lock(box.remote)
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain(`cannot create remote-path ${box.remote}`)
    expect(run.lines).not.toContain(MARK.GD_LOCKED)
    expect(snapshot(box.root)).toEqual(before)
  })

  it('fails naming a missing home directory for a relative path, and creates nothing anywhere', async () => {
    const name = `gd-nowhere-${process.pid}-${shell.name.replace(/\W/g, '')}`
    const missingHome = path.join(box.root, 'no-such-home')
    const rootBefore = ['releases', 'shared', '.gated-deploy', name].map(p => existsSync('/' + p))
    const before = snapshot(box.root)
    const run = await lock(`./${name}`, OWNER, 'take', { home: missingHome })
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain(`home directory (${missingHome}) does not exist`)
    expect(run.error).toContain(`./${name}`)
    expect(snapshot(box.root)).toEqual(before)
    expect(['releases', 'shared', '.gated-deploy', name].map(p => existsSync('/' + p))).toEqual(
      rootBefore
    )
    expect(existsSync('/' + name)).toBe(false)
  })

  it('creates a directory literally named -P in the home directory', async () => {
    const remote = remotePathArgument('-P')
    const run = await lock(remote)
    expect(run.code).toBe(0)
    expect(run.lines[0]).toBe(MARK.GD_LOCKED)
    expect(existsSync(path.join(box.home, '-P', '.gated-deploy', 'lock', 'owner.json'))).toBe(true)
    expect(Object.keys(snapshot(box.home))).toEqual(
      expect.arrayContaining(['-P', '-P/releases', '-P/shared'])
    )
    expect(existsSync(path.join(box.home, 'releases'))).toBe(false)
    expect(snapshot(box.cwd)).toEqual({})
  })

  it('takes a remote path with quotes, spaces, $(…) and a backslash literally', async () => {
    const remote = path.join(box.root, `it's "my" $(touch pwned) \\ app`)
    const run = await lock(remote)
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    expect(existsSync(path.join(remote, '.gated-deploy', 'lock', 'owner.json'))).toBe(true)
    expect(existsSync(path.join(box.cwd, 'pwned'))).toBe(false)
    expect(existsSync(path.join(box.home, 'pwned'))).toBe(false)
  })

  it('finds a relative path in the home directory, never through CDPATH', async () => {
    const elsewhere = path.join(box.root, 'elsewhere')
    mkdirSync(path.join(elsewhere, 'app'), { recursive: true })
    mkdirSync(path.join(box.home, 'app'))
    const run = await lock(remotePathArgument('~/app'), OWNER, 'take', {
      env: { CDPATH: elsewhere }
    })
    expect(run.code).toBe(0)
    expect(existsSync(path.join(box.home, 'app', '.gated-deploy', 'lock'))).toBe(true)
    expect(Object.keys(snapshot(elsewhere))).toEqual(['app'])
  })

  it('fails naming the directory it cannot create, without taking the lock', async () => {
    put(path.join(box.remote, 'shared'), 'a file where shared/ belongs\n')
    const run = await lock(box.remote)
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain(`cannot create ${box.remote}/shared`)
    expect(run.lines).not.toContain(MARK.GD_LOCKED)
    expect(existsSync(path.join(box.remote, '.gated-deploy', 'lock'))).toBe(false)
  })

  it('refuses a remote path that is neither absolute nor ./relative', async () => {
    const run = await lock('app')
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain('remote path app is neither absolute nor ./relative')
    expect(snapshot(box.home)).toEqual({})
    expect(snapshot(box.cwd)).toEqual({})
  })
  describe('with inspect (a dry run)', () => {
    it('reports a free lock and what the server holds, changing nothing', async () => {
      const [one, two] = [1, 2].map(n => storeRelease(box.remote, n))
      makeLive(box.remote, two ?? '')
      put(path.join(box.remote, 'releases', `${releaseName(3)}.partial`, 'a'), 'half\n')
      const before = snapshot(box.root)
      const run = await lock(box.remote, OWNER, 'inspect')
      expect(run.error).toBe('no error output')
      expect(run.code).toBe(0)
      expect(run.lines[0]).toBe(MARK.GD_FREE)
      const inspection = parseInspection(run.lines, () => undefined)
      expect(inspection.current).toBe(two)
      expect(inspection.releases.map(r => r.id)).toEqual([one, two])
      expect(inspection.base?.release).toBe(two)
      expect(snapshot(box.root)).toEqual(before)
    })

    it('reports a held lock with its owner, changing nothing', async () => {
      expect((await lock(box.remote)).code).toBe(0)
      const before = snapshot(box.root)
      const run = await lock(box.remote, OTHER, 'inspect')
      expect(run.code).toBe(0)
      expect(run.lines[0]).toMatch(/^GD-HELD \d+$/)
      expect(parseLockOwner(run.lines[1] ?? '')).toEqual(OWNER)
      expect(run.lines).toContain(`${MARK.GD_CURRENT} `)
      expect(snapshot(box.root)).toEqual(before)
    })

    it('reports a missing remote path that could be created, creating nothing', async () => {
      const before = snapshot(box.root)
      const run = await lock(box.remote, OWNER, 'inspect')
      expect(run.code).toBe(0)
      expect(run.lines[0]).toBe(MARK.GD_ABSENT)
      expect(snapshot(box.root)).toEqual(before)
    })

    it('fails as a real run would for a remote path below a regular file', async () => {
      put(path.join(box.root, 'srv'), 'a file\n')
      const before = snapshot(box.root)
      const run = await lock(box.remote, OWNER, 'inspect')
      expect(run.code).toBe(EXIT.EXIT_FAILED)
      expect(run.error).toBe(
        `cannot create remote-path ${box.remote}: ${box.root}/srv is not a directory`
      )
      expect(snapshot(box.root)).toEqual(before)
    })

    it('fails naming a remote path that is a file', async () => {
      put(box.remote, 'a file\n')
      const run = await lock(box.remote, OWNER, 'inspect')
      expect(run.code).toBe(EXIT.EXIT_FAILED)
      expect(run.error).toBe(`remote-path ${box.remote} exists and is not a directory`)
    })
  })
})
