/**
 * The upload's tar stream when big files are in it: the system tar writes the small members,
 * the packer cuts its end-of-archive and writes the big files itself (transfer.ts). Read back by
 * every tar a server may have (GNU, BusyBox, bsdtar): each must unpack every file byte for byte,
 * and GNU tar must stop at the archive's end with its stdin left open, as a serving exec leaves it. A big file
 * that cannot be read, or shrinks while it is sent, fails the upload with its name, and the
 * stream stays a whole archive.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildManifest, type Manifest, type ScannedEntry } from '../../src/artifact/manifest.js'
import { ArchiveEnd, BLOCK, fileHeader } from '../../src/artifact/tar-format.js'
import {
  archiveOrder,
  BLOCKING_FACTOR,
  DIRECT_BYTES,
  packEntries
} from '../../src/artifact/transfer.js'
import { requireServerTars, tarOf, TARS, unpack } from '../rig/tars.js'

const LONG = `${'a long name, ünïcødé and spaces '.repeat(5)}.bin`

let root: string
let tree: string
let manifest: Manifest

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

const packed = (entries: readonly ScannedEntry[]): Promise<Buffer> => tarOf(tree, entries)

beforeAll(async () => {
  requireServerTars()
  root = mkdtempSync(path.join(tmpdir(), 'gd-packer-'))
  tree = path.join(root, 'tree')
  mkdirSync(path.join(tree, 'assets/deep'), { recursive: true })
  writeFileSync(path.join(tree, 'index.html'), '<h1>hi</h1>\n')
  writeFileSync(path.join(tree, 'assets/app.js'), 'x'.repeat(5000))
  writeFileSync(path.join(tree, 'assets/big.bin'), Buffer.alloc(3 * DIRECT_BYTES + 7, 'big\n'))
  writeFileSync(path.join(tree, 'assets/deep', LONG), Buffer.alloc(DIRECT_BYTES, 'long\n'))
  writeFileSync(path.join(tree, 'exact.bin'), Buffer.alloc(2 * DIRECT_BYTES, 1))
  chmodSync(path.join(tree, 'exact.bin'), 0o750)
  symlinkSync('assets/app.js', path.join(tree, 'latest.js'))
  manifest = await buildManifest({ root: tree, exclude: [], sharedPaths: [] })
})

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

describe('the upload stream with big files', () => {
  it('puts the big files after the system tar’s members, in the order earlyHashList counts', () => {
    const order = archiveOrder(manifest.entries).map(e => e.path)
    expect(order.slice(-3)).toEqual(['assets/big.bin', `assets/deep/${LONG}`, 'exact.bin'])
    expect(order.slice(0, -3)).toEqual(
      manifest.entries.map(e => e.path).filter(p => !order.slice(-3).includes(p))
    )
  })

  it('is whole records, ending in the end-of-archive blocks', async () => {
    const archive = await packed(manifest.entries)
    expect(archive.length % (BLOCKING_FACTOR * BLOCK)).toBe(0)
    const end = new ArchiveEnd()
    const members = Buffer.concat(end.take(archive))
    expect(end.ended).toBe(true)
    expect(archive.subarray(members.length).every(byte => byte === 0)).toBe(true)
    expect(archive.length - members.length).toBeGreaterThanOrEqual(2 * BLOCK)
  })

  for (const [name, tar] of Object.entries(TARS)) {
    it(`${name} unpacks every entry byte for byte and stops at the archive's end`, async () => {
      const into = mkdtempSync(path.join(root, 'out-'))
      const { code, stderr } = await unpack(tar, await packed(manifest.entries), into)
      expect(stderr).toBe('')
      expect(code).toBe(0)
      for (const entry of manifest.entries) {
        const local = path.join(tree, entry.path)
        const there = path.join(into, entry.path)
        if (entry.type === 'file') {
          expect([entry.path, sha(there)]).toEqual([entry.path, sha(local)])
          expect(statSync(there).mode & 0o777).toBe(statSync(local).mode & 0o777)
          expect(Math.floor(statSync(there).mtimeMs / 1000)).toBe(
            Math.floor(statSync(local).mtimeMs / 1000)
          )
        } else if (entry.type === 'symlink') {
          expect(readlinkSync(there)).toBe(entry.target)
        } else {
          expect(statSync(there).isDirectory()).toBe(true)
        }
      }
    })
  }

  it('is one member per file when only big files travel (no system tar at all)', async () => {
    const big = manifest.entries.filter(e => e.type === 'file' && e.size >= DIRECT_BYTES)
    const into = mkdtempSync(path.join(root, 'only-big-'))
    const { code, stderr } = await unpack(TARS['GNU tar'], await packed(big), into)
    expect([code, stderr]).toEqual([0, ''])
    expect(sha(path.join(into, 'exact.bin'))).toBe(sha(path.join(tree, 'exact.bin')))
  })

  it('fails naming a big file it cannot read, and the stream is still a whole archive', async () => {
    // Tests run as root, who reads any mode: the file is taken away after the walk instead.
    const file = path.join(tree, 'exact.bin')
    const away = path.join(root, 'exact.bin.away')
    renameSync(file, away)
    try {
      const pack = packEntries(tree, manifest.entries)
      const chunks: Buffer[] = []
      pack.stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      await expect(pack.done).rejects.toThrow(/cannot send exact\.bin from the artifact: .*ENOENT/)
      await new Promise(resolve => setImmediate(resolve))
      const into = mkdtempSync(path.join(root, 'unreadable-'))
      const { code } = await unpack(TARS['GNU tar'], Buffer.concat(chunks), into)
      expect(code).toBe(0)
      expect(sha(path.join(into, 'assets/big.bin'))).toBe(sha(path.join(tree, 'assets/big.bin')))
      expect(existsSync(path.join(into, 'exact.bin'))).toBe(false)
    } finally {
      renameSync(away, file)
    }
  })

  it('fails naming a big file that shrank while it was sent, padding it as GNU tar does', async () => {
    const file = path.join(tree, 'assets/big.bin')
    const content = readFileSync(file)
    truncateSync(file, DIRECT_BYTES)
    try {
      const pack = packEntries(tree, manifest.entries)
      const chunks: Buffer[] = []
      pack.stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      await expect(pack.done).rejects.toThrow(
        `assets/big.bin in the artifact shrank by ${content.length - DIRECT_BYTES} bytes while it was sent`
      )
      await new Promise(resolve => setImmediate(resolve))
      const into = mkdtempSync(path.join(root, 'shrank-'))
      const { code } = await unpack(TARS['GNU tar'], Buffer.concat(chunks), into)
      expect(code).toBe(0)
      expect(statSync(path.join(into, 'assets/big.bin')).size).toBe(content.length)
      expect(sha(path.join(into, 'exact.bin'))).toBe(sha(path.join(tree, 'exact.bin')))
    } finally {
      writeFileSync(file, content)
    }
  })
})

describe('ArchiveEnd', () => {
  it('finds the end of a GNU tar archive however the stream is cut into chunks', async () => {
    const small = manifest.entries.filter(e => !(e.type === 'file' && e.size >= DIRECT_BYTES))
    const pack = packEntries(tree, small)
    const chunks: Buffer[] = []
    pack.stream.on('data', (chunk: Buffer) => chunks.push(chunk))
    await pack.done
    const archive = Buffer.concat(chunks)
    const whole = new ArchiveEnd()
    const members = Buffer.concat(whole.take(archive))
    expect(whole.ended).toBe(true)
    expect(members.length % BLOCK).toBe(0)
    expect(members.length).toBeLessThan(archive.length)
    // Cut at every offset around every block boundary of the members, and in odd sizes.
    for (const size of [1, 7, 100, 511, 512, 513, 1000, 4096]) {
      const end = new ArchiveEnd()
      const out: Buffer[] = []
      for (let at = 0; at < archive.length; at += size)
        out.push(...end.take(archive.subarray(at, at + size)))
      expect([size, Buffer.concat(out).equals(members)]).toEqual([size, true])
    }
  })

  it('passes a member whose name is too long for the header through whole (GNU long name)', () => {
    const header = fileHeader(`dir/${LONG}`, { mode: 0o644, size: 3, mtime: 0 })
    expect(header.length).toBe(3 * BLOCK) // the long-name member, its name, then the header
    expect(header.toString('latin1', 0, 13)).toBe('././@LongLink')
    expect(String.fromCharCode(header[156] ?? 0)).toBe('L')
    const archive = Buffer.concat([header, Buffer.from('abc'), Buffer.alloc(BLOCK - 3 + 2 * BLOCK)])
    const end = new ArchiveEnd()
    expect(Buffer.concat(end.take(archive)).length).toBe(4 * BLOCK)
    expect(end.ended).toBe(true)
  })

  it('writes a size past 8 GiB in base 256, as GNU tar does, and reads it back', () => {
    const size = 9 * 2 ** 30 + 5
    const header = fileHeader('huge.bin', { mode: 0o644, size, mtime: 0 })
    expect(header[124]).toBe(0x80)
    expect(header.readUIntBE(130, 6)).toBe(size)
    const end = new ArchiveEnd()
    end.take(header)
    // What follows is the file's data: 9 GiB and the padding are skipped, not read as headers.
    expect(end.take(Buffer.alloc(4 * BLOCK))).toHaveLength(1)
    expect(end.ended).toBe(false)
  })
})
