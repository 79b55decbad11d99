/**
 * An artifact tree with every kind of entry a release can hold (dotfiles, symlinks, modes 600 and
 * 755, empty directories, names with spaces, quotes, `$(x)`, a leading dash, a backslash, a
 * newline; big files the packer writes itself), the tar the deploy sends of it (the real packer:
 * GNU tar and transfer.ts), and what a listing of it
 * must say, computed here in Node.
 */
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import path from 'node:path'
import type { Listing } from '../../src/deploy/stage/listing.js'
import { sha256 } from './harness.js'

const FILES: readonly (readonly [string, number])[] = [
  ['plain.txt', 0o644],
  ['.dotfile', 0o644],
  ['.config/.hidden', 0o600],
  ['-starts-with-dash', 0o644],
  ['spaces and "quotes" & $(x).txt', 0o644],
  ["it's a `tick`; rm -rf x.txt", 0o644],
  ['ünïcødé 日本.txt', 0o644],
  ['back\\slash.txt', 0o644],
  ['new\nline.txt', 0o644],
  ['dir\nwith newline/inner.txt', 0o644],
  ['tab\there', 0o644],
  ['deep/a/b/c.bin', 0o644],
  ['empty', 0o644],
  ['secret.key', 0o600],
  ['bin/run.sh', 0o755],
  ['private/x', 0o600],
  // Big enough for the packer to write them itself (transfer.ts DIRECT_BYTES), one past 100
  // bytes of name (GNU's long-name member) and past stage's early-hash threshold.
  [`big/${'a long name with ünïcødé, spaces '.repeat(4)}.dat`, 0o640],
  ['big/new\nline.dat', 0o600]
]

/** The sizes of the `.dat` files, in that order. */
const BIG_SIZES = [2_200_000, 1_100_000]
const DIRS: readonly (readonly [string, number])[] = [
  ['empty-dir', 0o755],
  ['nested/empty', 0o700],
  ['private', 0o700]
]
const LINKS: readonly (readonly [string, string])[] = [
  ['link-to-plain', 'plain.txt'],
  ['dangling', 'no/such/file'],
  ['dir-link', 'deep/a'],
  ['odd link $(x)', '-P "q" \\n'],
  ['sym\nlink', 'back\\slash.txt']
]

/** Writes the tree under `root` (which must not exist). */
export function makeTree(root: string): void {
  FILES.forEach(([name, mode], i) => {
    const file = path.join(root, name)
    mkdirSync(path.dirname(file), { recursive: true })
    const big = FILES.filter(([n]) => n.endsWith('.dat')).findIndex(([n]) => n === name)
    const content =
      name === 'empty'
        ? ''
        : name.endsWith('.bin')
          ? randomBytes(300_000)
          : big >= 0
            ? Buffer.alloc(BIG_SIZES[big] ?? 0, `${name}\n`)
            : `${name}\n`.repeat(i * 100 + 1)
    writeFileSync(file, content)
    chmodSync(file, mode)
  })
  for (const [name, mode] of DIRS) {
    mkdirSync(path.join(root, name), { recursive: true })
    chmodSync(path.join(root, name), mode)
  }
  for (const [name, target] of LINKS) symlinkSync(target, path.join(root, name))
  // Parents made along the way get a mode that does not depend on the umask.
  for (const dir of [
    '.config',
    'dir\nwith newline',
    'deep',
    'deep/a',
    'deep/a/b',
    'bin',
    'nested',
    'big'
  ]) {
    chmodSync(path.join(root, dir), 0o755)
  }
}

/** The names the listing must escape or that a shell could misread. */
export const ODD_NAMES = FILES.map(([name]) => name).filter(name => /[^A-Za-z0-9._/]/.test(name))

/** What a listing of `root` must hold, read here with Node. */
export function expectedListing(root: string): Listing {
  const entries: Listing['entries'] = new Map()
  const hashes: Listing['hashes'] = new Map()
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel))) {
      const p = rel ? `${rel}/${name}` : name
      const full = path.join(root, p)
      const stat = lstatSync(full)
      const mode = (stat.mode & 0o7777).toString(8)
      if (stat.isSymbolicLink())
        entries.set(p, { type: 'l', mode: '0', target: readlinkSync(full) })
      else if (stat.isDirectory()) {
        entries.set(p, { type: 'd', mode })
        walk(p)
      } else {
        entries.set(p, { type: 'f', mode })
        hashes.set(p, sha256(readFileSync(full)))
      }
    }
  }
  walk('')
  return { entries, hashes }
}

export { tarOf } from '../rig/tars.js'

/** Sorted by path, so two listings compare regardless of the order `find` walked. */
export function sorted(listing: Listing): Listing {
  return {
    entries: new Map([...listing.entries].sort(([a], [b]) => (a < b ? -1 : 1))),
    hashes: new Map([...listing.hashes].sort(([a], [b]) => (a < b ? -1 : 1)))
  }
}
