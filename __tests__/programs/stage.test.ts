/**
 * stage.sh and repair.sh under dash and busybox sh, fed what the deploy sends (the header from
 * `stageHeader`, the real GNU tar of a tree with every kind of entry): the partial release they
 * build, and the listing and hashes they print, must be exactly the tree, hashed by openssl or,
 * on a server without it, by sha256sum. Unchanged files are hard links into the base; bad input
 * and a corrupt upload fail naming what went wrong, and nothing goes on after a failed step.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildManifest, type Manifest } from '../../src/artifact/manifest.js'
import { planTransfer, sharedLinkTarget } from '../../src/artifact/plan.js'
import { EXIT, MARK } from '../../src/deploy/program.js'
import {
  compareListing,
  parseListing,
  staleReused,
  type Listing
} from '../../src/deploy/stage/listing.js'
import { earlyHashList } from '../../src/deploy/stage/listing.js'
import { stageHeader } from '../../src/deploy/stage/stage.js'
import {
  holdLock,
  layout,
  PROGRAMS,
  put,
  releaseName,
  Sandbox,
  SHELLS,
  snapshot,
  type Run
} from './harness.js'
import { expectedListing, makeTree, ODD_NAMES, sorted, tarOf } from './tree.js'

let fixtures: string
let tree: string
let manifest: Manifest
let fullTar: Buffer
/** A directory with every system tool but openssl. */
let noOpenssl: string

beforeAll(async () => {
  fixtures = mkdtempSync(path.join(tmpdir(), 'gd-stage-'))
  tree = path.join(fixtures, 'tree')
  makeTree(tree)
  manifest = await buildManifest({ root: tree, exclude: [], sharedPaths: [] })
  fullTar = await tarOf(tree, manifest.entries)
  noOpenssl = path.join(fixtures, 'bin')
  mkdirSync(noOpenssl)
  for (const tool of readdirSync('/usr/bin')) {
    if (tool !== 'openssl') symlinkSync(path.join('/usr/bin', tool), path.join(noOpenssl, tool))
  }
})
afterAll(() => rmSync(fixtures, { recursive: true, force: true }))

const RELEASE = releaseName(2)
const SHA = 'a'.repeat(40)
const BASE = releaseName(1)

/** The hash section of a program's output, raw. */
const hashSection = (run: Run): string => {
  const text = run.output.toString('utf8')
  return text.slice(text.indexOf(`\0${MARK.GD_HASHES}\0`))
}

describe.each(SHELLS)('stage.sh, run by lock.sh, under $name', shell => {
  let box: Sandbox
  beforeEach(() => {
    box = new Sandbox(shell)
    layout(box.remote)
  })
  afterEach(() => box.remove())

  const partial = (id = RELEASE): string => path.join(box.remote, 'releases', `${id}.partial`)
  /**
   * lock.sh with a release: takes the lock, then stages from stdin, as lockAndInspect runs it.
   * A server with GNU tar (this one) then serves commands (serve.sh): `detach` after the tar ends
   * it with the release staged and the lock held, as the separate programs leave them.
   */
  const stage = (
    stdin: Buffer | string,
    args: readonly string[] = [],
    env: Record<string, string> = {}
  ): Promise<Run> =>
    box.run(PROGRAMS.lock, [box.remote, '{"actor":"me"}', 'take', RELEASE, SHA, '', '', ...args], {
      stdin:
        stdin.length > 0 ? Buffer.concat([Buffer.from(stdin), Buffer.from('detach\n')]) : stdin,
      env
    })
  const unlock = (): void =>
    rmSync(path.join(box.remote, '.gated-deploy', 'lock'), { recursive: true })
  /** The listing the program printed after GD-READY. */
  const listingOf = (run: Run): Listing => {
    const ready = Buffer.from(`\n${MARK.GD_READY}\n`)
    const at = run.output.indexOf(ready)
    expect(at).toBeGreaterThanOrEqual(0)
    return parseListing(run.output.subarray(at + ready.length))
  }

  it('releases the lock and changes nothing else when stdin is empty (a cancelled stage)', async () => {
    const before = snapshot(box.root)
    const run = await stage('')
    expect(run.code).toBe(0)
    expect(run.lines).toContain(MARK.GD_LOCKED)
    expect(run.lines.slice(-3)).toEqual([MARK.GD_READY, MARK.GD_UNLOCKED, ''])
    expect(snapshot(box.root)).toEqual(before)
    expect(existsSync(partial())).toBe(false)
  })

  it('stages nothing while the lock is held by another run', async () => {
    holdLock(box.remote)
    const before = snapshot(box.root)
    const run = await stage(Buffer.concat([stageHeader(undefined, []), fullTar]))
    expect(run.code).toBe(0)
    expect(run.lines[0]).toMatch(/^GD-HELD \d+$/)
    expect(run.lines).not.toContain(MARK.GD_READY)
    expect(snapshot(box.root)).toEqual(before)
  })

  it('unpacks the whole tree and lists and hashes it exactly, with openssl', async () => {
    expect(
      spawnSync('/bin/sh', ['-c', 'command -v openssl'], { env: { PATH: box.path() } }).status
    ).toBe(0)
    const header = stageHeader(undefined, [])
    expect(header.toString()).toBe('0 -\n0 4096\n')
    const run = await stage(Buffer.concat([header, fullTar]))
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    const listing = listingOf(run)
    expect(sorted(listing)).toEqual(sorted(expectedListing(tree)))
    expect(compareListing(manifest, listing, [])).toEqual([])
    // The partial release on disk is the tree, modes and links included.
    expect(snapshot(partial())).toEqual(snapshot(tree))
    // openssl hashed the plain names; sha256sum -z the ones openssl would escape.
    expect(hashSection(run)).toContain(' *./plain.txt\n')
    expect(hashSection(run)).toContain('  ./new\nline.txt\0')
    expect(hashSection(run)).toContain('  ./back\\slash.txt\0')
  })

  // Upload.run (stage.ts) hands the whole output of the lock exec to parseListing: the
  // inspection lines, GD-READY, then the listing. Its first record must not be lost.
  it('gives parseListing every entry when it reads the whole output, as Upload.run does', async () => {
    const run = await stage(Buffer.concat([stageHeader(undefined, []), fullTar]))
    expect(run.code).toBe(0)
    expect(compareListing(manifest, parseListing(run.output), [])).toEqual([])
  })

  it('hashes every file with sha256sum on a server without openssl', async () => {
    const env = { PATH: box.path(noOpenssl) }
    expect(spawnSync('/bin/sh', ['-c', 'command -v openssl'], { env }).status).not.toBe(0)
    const run = await stage(Buffer.concat([stageHeader(undefined, []), fullTar]), [], env)
    expect(run.code).toBe(0)
    const listing = listingOf(run)
    expect(sorted(listing)).toEqual(sorted(expectedListing(tree)))
    expect(compareListing(manifest, listing, [])).toEqual([])
    expect(hashSection(run)).not.toContain(' *./')
  })

  describe('with a base release', () => {
    let changed: string
    let next: Manifest
    beforeEach(async () => {
      // The base: the tree, stored as the previous deploy left it.
      expect((await stage(Buffer.concat([stageHeader(undefined, []), fullTar]))).code).toBe(0)
      renameSync(partial(), path.join(box.remote, 'releases', BASE))
      unlock()
      // The next build: one file changed, one added, one removed.
      changed = path.join(box.root, 'next')
      makeTree(changed)
      writeFileSync(path.join(changed, 'plain.txt'), 'changed\n')
      writeFileSync(path.join(changed, 'added.txt'), 'added\n')
      rmSync(path.join(changed, 'empty'))
      next = await buildManifest({ root: changed, exclude: [], sharedPaths: [] })
    })
    const remoteBase = (): Parameters<typeof planTransfer>[1] => ({
      version: 1,
      release: BASE,
      sha: '',
      created: '',
      by: '',
      run: '',
      entries: manifest.entries
    })
    const inBase = (name: string): string => path.join(box.remote, 'releases', BASE, name)

    it('hard-links the unchanged files from the base and unpacks only the rest', async () => {
      // makeTree writes fresh random bytes, so c.bin differs too; the rest are unchanged.
      const plan = planTransfer(next, remoteBase())
      expect(plan.reuse).toEqual(expect.arrayContaining(ODD_NAMES))
      expect(plan.reuse).not.toContain('plain.txt')
      const tar = await tarOf(changed, plan.send)
      const run = await stage(Buffer.concat([stageHeader(BASE, plan.reuse), tar]))
      expect(run.error).toBe('no error output')
      expect(run.code).toBe(0)
      const listing = listingOf(run)
      expect(compareListing(next, listing, [])).toEqual([])
      expect(sorted(listing)).toEqual(sorted(expectedListing(changed)))
      for (const name of plan.reuse) {
        expect(statSync(path.join(partial(), name)).ino).toBe(statSync(inBase(name)).ino)
      }
      // A changed file arrives as a new file: the base keeps its own.
      expect(statSync(path.join(partial(), 'plain.txt')).ino).not.toBe(
        statSync(inBase('plain.txt')).ino
      )
      expect(readFileSync(inBase('plain.txt'), 'utf8')).toBe(
        readFileSync(path.join(tree, 'plain.txt'), 'utf8')
      )
      expect(existsSync(path.join(partial(), 'empty'))).toBe(false)
    })

    it('repair.sh replaces a reused file the base changed after it was verified, not touching the base', async () => {
      const plan = planTransfer(next, remoteBase())
      writeFileSync(inBase('-starts-with-dash'), 'edited on the server by a hook\n')
      const run = await stage(
        Buffer.concat([stageHeader(BASE, plan.reuse), await tarOf(changed, plan.send)])
      )
      expect(run.code).toBe(0)
      const stale = staleReused(next, listingOf(run), plan.reuse)
      expect(stale.map(e => e.path)).toEqual(['-starts-with-dash'])
      const repaired = await box.run(PROGRAMS.repair, [box.remote, RELEASE], {
        stdin: await tarOf(changed, stale)
      })
      expect(repaired.error).toBe('no error output')
      expect(repaired.code).toBe(0)
      expect(compareListing(next, parseListing(repaired.output), [])).toEqual([])
      expect(readFileSync(inBase('-starts-with-dash'), 'utf8')).toBe(
        'edited on the server by a hook\n'
      )
      expect(statSync(path.join(partial(), '-starts-with-dash')).ino).not.toBe(
        statSync(inBase('-starts-with-dash')).ino
      )
    })

    it('fails naming the base when the files to reuse cannot be linked from it', async () => {
      const plan = planTransfer(next, remoteBase())
      rmSync(path.join(box.remote, 'releases', BASE), { recursive: true })
      const run = await stage(
        Buffer.concat([stageHeader(BASE, plan.reuse), await tarOf(changed, plan.send)])
      )
      expect(run.code).toBe(EXIT.EXIT_FAILED)
      expect(run.error).toContain(`cannot link the unchanged files from releases/${BASE}`)
      expect(run.output.toString('utf8')).not.toContain(MARK.GD_HASHES)
    })
  })

  it('hashes big files while GNU tar unpacks them, once each, the reused ones too', async () => {
    // The base holds big/kept.bin; the next release keeps it and adds two big files.
    const first = path.join(box.root, 'first')
    const second = path.join(box.root, 'second')
    const bigFile = (root: string, name: string, seed: number): void =>
      put(path.join(root, name), Buffer.alloc((5 << 20) + seed, seed))
    bigFile(first, 'big/kept.bin', 1)
    put(path.join(first, 'small.txt'), 'small\n')
    const firstManifest = await buildManifest({ root: first, exclude: [], sharedPaths: [] })
    const firstPlan = planTransfer(firstManifest, undefined)
    const early = earlyHashList(firstPlan.send, [])
    // Dir big and small.txt from the system tar, then the big file (transfer.ts writes it last):
    // complete once 4 members have begun.
    expect(early).toBe('4 big/kept.bin\n')
    let run = await stage(
      Buffer.concat([stageHeader(undefined, [], [], early), await tarOf(first, firstPlan.send)])
    )
    expect(run.error).toBe('no error output')
    expect(compareListing(firstManifest, listingOf(run), [])).toEqual([])
    renameSync(partial(), path.join(box.remote, 'releases', BASE))
    unlock()
    bigFile(second, 'big/kept.bin', 1)
    bigFile(second, 'a.bin', 2)
    bigFile(second, 'big/z new.bin', 3)
    put(path.join(second, 'small.txt'), 'small\n')
    const next = await buildManifest({ root: second, exclude: [], sharedPaths: [] })
    const base = { version: 1, release: BASE, sha: '', created: '', by: '', run: '' } as const
    const plan = planTransfer(next, { ...base, entries: firstManifest.entries })
    expect([...plan.reuse].sort()).toEqual(['big/kept.bin', 'small.txt'])
    const reused = next.entries.flatMap(e =>
      e.type === 'file' && plan.reuse.includes(e.path) ? [e] : []
    )
    const list = earlyHashList(plan.send, reused)
    // Dir big, then the two big files.
    expect(list).toBe('0 big/kept.bin\n3 a.bin\n4 big/z new.bin\n')
    run = await stage(
      Buffer.concat([stageHeader(BASE, plan.reuse, [], list), await tarOf(second, plan.send)])
    )
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    expect(compareListing(next, listingOf(run), [])).toEqual([])
    const hashes = hashSection(run)
    for (const name of ['a.bin', 'big/kept.bin', 'big/z new.bin', 'small.txt'])
      expect(hashes.split(` *./${name}\n`)).toHaveLength(2)
    // Nothing is left behind but the release.
    expect(readdirSync(path.join(box.remote, '.gated-deploy', 'lock')).sort()).toEqual([
      'early',
      'owner.json',
      'sums',
      'untar'
    ])
  })

  it('hashes the tree’s big file with a long name while GNU tar unpacks it (the packer’s own member)', async () => {
    const early = earlyHashList(manifest.entries, [])
    const long = manifest.entries.find(e => e.type === 'file' && e.path.length > 100)
    expect(long).toBeDefined()
    expect(early).toContain(` ${long?.path ?? '?'}\n`)
    const run = await stage(Buffer.concat([stageHeader(undefined, [], [], early), fullTar]))
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    expect(compareListing(manifest, listingOf(run), [])).toEqual([])
    expect(hashSection(run).split(` *./${long?.path ?? '?'}\n`)).toHaveLength(2)
  })

  it('fails naming the upload when GNU tar fails while big files are hashed, leaving nothing verified', async () => {
    const big = path.join(box.root, 'big')
    put(path.join(big, 'a.bin'), Buffer.alloc(5 << 20, 7))
    const bigManifest = await buildManifest({ root: big, exclude: [], sharedPaths: [] })
    const tar = await tarOf(big, bigManifest.entries)
    const run = await stage(
      Buffer.concat([
        stageHeader(undefined, [], [], earlyHashList(bigManifest.entries, [])),
        tar.subarray(0, 3 << 20)
      ])
    )
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain('unpacking the upload into')
    expect(run.output.toString('utf8')).not.toContain(MARK.GD_HASHES)
  })

  // The reuse list is read by dd in 64 KiB blocks; the tar must start right after it.
  it('reuses a list longer than one read block, then unpacks the tar that follows it', async () => {
    const big = path.join(box.root, 'big')
    for (let i = 0; i < 1500; i++) {
      put(
        path.join(big, `dir ${i % 7}`, `a rather long file name, number ${i}, for a long list.txt`),
        `${i}\n`
      )
    }
    const baseManifest = await buildManifest({ root: big, exclude: [], sharedPaths: [] })
    expect(
      (
        await stage(
          Buffer.concat([stageHeader(undefined, []), await tarOf(big, baseManifest.entries)])
        )
      ).code
    ).toBe(0)
    renameSync(partial(), path.join(box.remote, 'releases', BASE))
    unlock()
    put(path.join(big, 'new.txt'), 'new\n')
    const local = await buildManifest({ root: big, exclude: [], sharedPaths: [] })
    const plan = planTransfer(local, {
      version: 1,
      release: BASE,
      sha: '',
      created: '',
      by: '',
      run: '',
      entries: baseManifest.entries
    })
    const header = stageHeader(BASE, plan.reuse)
    expect(header.length).toBeGreaterThan(65536)
    const run = await stage(Buffer.concat([header, await tarOf(big, plan.send)]))
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    expect(compareListing(local, listingOf(run), [])).toEqual([])
  })

  it('links the shared paths into the release, creating them once in shared/', async () => {
    put(path.join(box.remote, 'shared', '.env'), 'SECRET=kept\n')
    const shared = [
      { path: 'storage/logs', kind: 'dir' },
      { path: '.env', kind: 'file' },
      { path: 'uploads', kind: 'dir' },
      { path: 'config/app settings.ini', kind: 'file' }
    ] as const
    const app = path.join(box.root, 'app')
    put(path.join(app, 'index.html'), 'hello\n')
    put(path.join(app, 'storage', 'app.txt'), 'storage\n')
    const local = await buildManifest({
      root: app,
      exclude: [],
      sharedPaths: shared.map(s => s.path)
    })
    const args = shared.flatMap(s => [s.path, s.kind, sharedLinkTarget(s.path)])
    const run = await stage(
      Buffer.concat([stageHeader(undefined, []), await tarOf(app, local.entries)]),
      args
    )
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    expect(
      compareListing(
        local,
        listingOf(run),
        shared.map(s => s.path)
      )
    ).toEqual([])
    for (const { path: p, kind } of shared) {
      const store = path.join(box.remote, 'shared', p)
      expect(statSync(store).isDirectory()).toBe(kind === 'dir')
      expect(realpathSync(path.join(partial(), p))).toBe(realpathSync(store))
    }
    expect(readFileSync(path.join(box.remote, 'shared', '.env'), 'utf8')).toBe('SECRET=kept\n')
  })

  // The old program ran `mkdir -p shared/config && : > shared/config/app.env` inside `if`,
  // went on past the failed mkdir and verified a release with a dangling shared link.
  it('stops at a shared path it cannot create, printing no listing', async () => {
    put(path.join(box.remote, 'shared', 'config'), 'a file where a directory belongs\n')
    const run = await stage(Buffer.concat([stageHeader(undefined, []), fullTar]), [
      'config/app.env',
      'file',
      sharedLinkTarget('config/app.env')
    ])
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain('cannot create shared/config')
    expect(run.output.toString('utf8')).not.toContain(MARK.GD_HASHES)
    expect(existsSync(path.join(partial(), 'config'))).toBe(false)
  })

  it('refuses to build a release that already exists, leaving it alone', async () => {
    put(path.join(box.remote, 'releases', RELEASE, 'index.html'), 'stored\n')
    const before = snapshot(path.join(box.remote, 'releases'))
    const run = await stage(Buffer.concat([stageHeader(undefined, []), fullTar]))
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain(`release ${RELEASE} already exists in ${box.remote}/releases`)
    expect(snapshot(path.join(box.remote, 'releases'))).toEqual(before)
  })

  it.each([
    ['0 ../../etc\n', 'bad base release: ../../etc'],
    ['12 \nplain.txt\0', 'files to reuse but no base release'],
    ['-1 abc\n', 'bad reuse list length: -1'],
    ['\n', 'bad reuse list length:']
  ])('refuses the header %j, creating no release', async (header, message) => {
    const before = snapshot(path.join(box.remote, 'releases'))
    const run = await stage(Buffer.concat([Buffer.from(header), fullTar]))
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toBe(message)
    expect(snapshot(path.join(box.remote, 'releases'))).toEqual(before)
  })

  it.each([
    ['garbage', Buffer.alloc(4096, 'not a tar archive '), 'This does not look like a tar archive'],
    ['a truncated tar', Buffer.alloc(0), 'Unexpected EOF in archive']
  ])('fails naming the unpacking and tar’s own words for %s', async (_what, body, said) => {
    const tar = body.length > 0 ? body : fullTar.subarray(0, 20_000)
    const run = await stage(Buffer.concat([stageHeader(undefined, []), tar]), [
      'uploads',
      'dir',
      sharedLinkTarget('uploads')
    ])
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain(
      `unpacking the upload into ${box.remote}/releases/${RELEASE}.partial failed`
    )
    expect(run.error).toContain(said)
    // Nothing after the failed step: no shared path, no listing.
    expect(existsSync(path.join(box.remote, 'shared', 'uploads'))).toBe(false)
    expect(run.output.toString('utf8')).not.toContain(MARK.GD_HASHES)
  })
})

describe.each(SHELLS)('repair.sh under $name', shell => {
  let box: Sandbox
  beforeEach(() => {
    box = new Sandbox(shell)
  })
  afterEach(() => box.remove())

  it('fails naming the partial release when it is gone', async () => {
    mkdirSync(path.join(box.remote, 'releases'), { recursive: true })
    const run = await box.run(PROGRAMS.repair, [box.remote, RELEASE], { stdin: fullTar })
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toBe(`${box.remote}/releases/${RELEASE}.partial is gone`)
  })

  it('fails naming the unpacking and tar’s words for a corrupt upload', async () => {
    mkdirSync(path.join(box.remote, 'releases', `${RELEASE}.partial`), { recursive: true })
    const run = await box.run(PROGRAMS.repair, [box.remote, RELEASE], {
      stdin: Buffer.alloc(2048, 'x')
    })
    expect(run.code).toBe(EXIT.EXIT_FAILED)
    expect(run.error).toContain('unpacking the changed files into')
    expect(run.error).toContain('This does not look like a tar archive')
    expect(run.output.toString('utf8')).not.toContain(MARK.GD_HASHES)
  })
})
