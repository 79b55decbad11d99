/**
 * The remote programs on servers that are not GNU: a BusyBox-only userland (a directory of its
 * applets as the whole PATH, as on Alpine: no GNU find -printf, no cp --parents, no sha256sum -z,
 * no openssl) and a GNU userland whose `tar` is bsdtar. Staging must list, hash and verify the
 * release exactly as on GNU, reuse unchanged files as hard links, never write through a link
 * into the base release, and the switch of `current` must stay one rename.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildManifest, type Manifest } from '../../src/artifact/manifest.js'
import { planTransfer } from '../../src/artifact/plan.js'
import { MARK } from '../../src/deploy/program.js'
import { compareListing, parseListing, staleReused } from '../../src/deploy/stage/listing.js'
import { modesOf, stageHeader } from '../../src/deploy/stage/stage.js'
import { layout, PROGRAMS, releaseName, Sandbox, SHELLS, type Run } from './harness.js'
import { expectedListing, makeTree, sorted, tarOf } from './tree.js'

const BUSYBOX = '/usr/bin/busybox'
const BSDTAR = '/usr/bin/bsdtar'

let fixtures: string
let tree: string
let manifest: Manifest
let fullTar: Buffer
/** BusyBox's applets, and nothing else. */
let busyboxBin: string
/** Every tool of /usr/bin, with bsdtar as `tar`. */
let bsdtarBin: string

beforeAll(async () => {
  for (const tool of [BUSYBOX, BSDTAR]) {
    if (!existsSync(tool))
      throw new Error(`${tool} is missing: apt-get install -y busybox libarchive-tools`)
  }
  fixtures = mkdtempSync(path.join(tmpdir(), 'gd-userland-'))
  tree = path.join(fixtures, 'tree')
  makeTree(tree)
  manifest = await buildManifest({ root: tree, exclude: [], sharedPaths: [] })
  fullTar = await tarOf(tree, manifest.entries)
  busyboxBin = path.join(fixtures, 'busybox')
  mkdirSync(busyboxBin)
  for (const applet of execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n')) {
    if (applet) symlinkSync(BUSYBOX, path.join(busyboxBin, applet))
  }
  bsdtarBin = path.join(fixtures, 'bsdtar')
  mkdirSync(bsdtarBin)
  for (const tool of readdirSync('/usr/bin')) {
    symlinkSync(tool === 'tar' ? BSDTAR : path.join('/usr/bin', tool), path.join(bsdtarBin, tool))
  }
})
afterAll(() => rmSync(fixtures, { recursive: true, force: true }))

const USERLANDS = [
  { name: 'a BusyBox-only server', bin: (): string => busyboxBin, shell: 'busybox sh' },
  { name: 'a server whose tar is bsdtar', bin: (): string => bsdtarBin, shell: 'dash' }
]

describe.each(USERLANDS)('on $name', userland => {
  const shell = SHELLS.find(s => s.name === userland.shell)
  if (!shell) throw new Error(`no shell ${userland.shell}`)
  let box: Sandbox
  beforeEach(() => {
    box = new Sandbox(shell)
    layout(box.remote)
  })
  afterEach(() => box.remove())

  const env = (): Record<string, string> => ({ PATH: box.path(userland.bin()) })
  const stage = (release: string, stdin: Buffer): Promise<Run> =>
    box.run(PROGRAMS.lock, [box.remote, '{"actor":"me"}', 'take', release], { stdin, env: env() })
  const release = (id: string): string => path.join(box.remote, 'releases', id)
  const unlock = (): void =>
    rmSync(path.join(box.remote, '.gated-deploy', 'lock'), { recursive: true })

  it('uses no GNU tool: find has no -printf, and there is no openssl', () => {
    const probe = (command: string): number => {
      try {
        execFileSync('/bin/sh', ['-c', command], { env: env(), stdio: 'ignore' })
        return 0
      } catch {
        return 1
      }
    }
    if (userland.bin() === busyboxBin) {
      expect(probe("find . -maxdepth 0 -printf ''")).toBe(1)
      expect(probe('command -v openssl')).toBe(1)
      expect(probe('cp --parents --version')).toBe(1)
    } else {
      expect(
        execFileSync('/bin/sh', ['-c', 'tar --version'], { env: env(), encoding: 'utf8' })
      ).toMatch(/bsdtar/)
    }
  })

  it('stages every kind of entry and lists and hashes it exactly', async () => {
    const id = releaseName(1)
    const run = await stage(
      id,
      Buffer.concat([stageHeader(undefined, [], modesOf(manifest)), fullTar])
    )
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    const listing = parseListing(run.output)
    expect(sorted(listing)).toEqual(sorted(expectedListing(tree)))
    expect(compareListing(manifest, listing, [])).toEqual([])
    expect(existsSync(`${release(id)}.partial`)).toBe(true)
  })

  it('reuses unchanged files as hard links and sends a changed one as a new file', async () => {
    const base = releaseName(1)
    const first = await stage(
      base,
      Buffer.concat([stageHeader(undefined, [], modesOf(manifest)), fullTar])
    )
    expect(first.code).toBe(0)
    renameSync(`${release(base)}.partial`, release(base))
    unlock()
    const next = path.join(fixtures, `next-${userland.shell.replace(' ', '-')}`)
    rmSync(next, { recursive: true, force: true })
    makeTree(next)
    writeFileSync(path.join(next, 'plain.txt'), 'changed\n')
    const nextManifest = await buildManifest({ root: next, exclude: [], sharedPaths: [] })
    const plan = planTransfer(nextManifest, {
      version: 1,
      release: base,
      sha: '',
      created: '',
      by: '',
      run: '',
      entries: manifest.entries
    })
    expect(plan.reuse.length).toBeGreaterThan(5)
    const id = releaseName(2)
    const run = await stage(
      id,
      Buffer.concat([
        stageHeader(base, plan.reuse, modesOf(nextManifest)),
        await tarOf(next, plan.send)
      ])
    )
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    const listing = parseListing(run.output)
    expect(compareListing(nextManifest, listing, [])).toEqual([])
    expect(staleReused(nextManifest, listing, plan.reuse)).toEqual([])
    const reused = plan.reuse[0] ?? ''
    expect(statSync(path.join(`${release(id)}.partial`, reused)).ino).toBe(
      statSync(path.join(release(base), reused)).ino
    )
    expect(readFileSync(path.join(release(base), 'plain.txt'), 'utf8')).not.toBe('changed\n')
  })

  it('repairs a reused file without writing through its link into the base', async () => {
    const base = releaseName(1)
    const first = await stage(
      base,
      Buffer.concat([stageHeader(undefined, [], modesOf(manifest)), fullTar])
    )
    expect(first.code).toBe(0)
    renameSync(`${release(base)}.partial`, release(base))
    unlock()
    const plan = planTransfer(manifest, {
      version: 1,
      release: base,
      sha: '',
      created: '',
      by: '',
      run: '',
      entries: manifest.entries
    })
    // A hook edited the base in place after it was verified.
    writeFileSync(path.join(release(base), 'plain.txt'), 'edited by a hook\n')
    const id = releaseName(2)
    const staged = await stage(
      id,
      Buffer.concat([
        stageHeader(base, plan.reuse, modesOf(manifest)),
        await tarOf(tree, plan.send)
      ])
    )
    expect(staged.code).toBe(0)
    const stale = staleReused(manifest, parseListing(staged.output), plan.reuse)
    expect(stale.map(e => e.path)).toEqual(['plain.txt'])
    const repaired = await box.run(PROGRAMS.repair, [box.remote, id, ...modesOf(manifest)], {
      stdin: await tarOf(tree, stale),
      env: env()
    })
    expect(repaired.error).toBe('no error output')
    expect(repaired.code).toBe(0)
    expect(compareListing(manifest, parseListing(repaired.output), [])).toEqual([])
    expect(readFileSync(path.join(release(base), 'plain.txt'), 'utf8')).toBe('edited by a hook\n')
  })

  it('lists a file whose mode the artifact does not have as `?`, so verification fails', async () => {
    const id = releaseName(1)
    const run = await stage(id, Buffer.concat([stageHeader(undefined, [], ['755']), fullTar]))
    expect(run.code).toBe(0)
    const problems = compareListing(manifest, parseListing(run.output), [])
    expect(problems.some(p => /mode \? instead of 644/.test(p))).toBe(userland.bin() === busyboxBin)
  })

  it('switches current with one rename', async () => {
    const one = releaseName(1)
    const two = releaseName(2)
    for (const id of [one, two]) mkdirSync(release(id), { recursive: true })
    symlinkSync(`releases/${one}`, path.join(box.remote, 'current'))
    const line = '{"event":"activate"}'
    const run = await box.run(
      PROGRAMS.activate,
      [box.remote, two, 'a'.repeat(40), '', '', '', line, line, ''],
      { env: env() }
    )
    expect(run.error).toBe('no error output')
    expect(run.code).toBe(0)
    expect(lstatSync(path.join(box.remote, 'current')).isSymbolicLink()).toBe(true)
    expect(readdirSync(release(one))).toEqual([]) // nothing was moved into the old release
    expect(run.lines).toContain(`${MARK.GD_REPLACED} ${one}`)
  })
})
