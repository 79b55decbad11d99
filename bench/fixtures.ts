/** The trees the benchmark ships: generated once per run, incompressible, deterministic in shape. */
import { createHash, randomBytes } from 'node:crypto'
import {
  appendFileSync,
  cpSync,
  createReadStream,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  utimesSync,
  writeFileSync
} from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'

export interface TreeStats {
  readonly files: number
  readonly bytes: number
}

export interface Increment {
  /** Paths (relative to the tree) whose content changed. */
  readonly changed: readonly string[]
  readonly changedBytes: number
}

/** mulberry32: the same sizes and names on every run. */
function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function writeRandom(root: string, rel: string, size: number): void {
  const file = path.join(root, rel)
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, randomBytes(size))
}

/** `count` files of 1–4 KB in 25 × 8 nested directories, one of them a dotfile. */
export function makeSmallFiles(root: string, count: number): void {
  const rand = prng(1)
  writeRandom(root, '.htaccess', 1024)
  for (let i = 1; i < count; i++) {
    const rel = `pkg${i % 25}/mod${(i >> 5) % 8}/file${i}.js`
    writeRandom(root, rel, 1024 + Math.floor(rand() * 3072))
  }
}

/** A ~60 MB web build of ~300 files: media, images, JS chunks and small text, plus a dotfile. */
export function makeWebBuild(root: string): void {
  const rand = prng(2)
  const between = (low: number, high: number): number => Math.floor(low + rand() * (high - low))
  const groups: readonly { dir: string; ext: string; count: number; low: number; high: number }[] =
    [
      { dir: 'assets/media', ext: 'mp4', count: 8, low: 3 << 20, high: 5 << 20 },
      { dir: 'assets/img', ext: 'webp', count: 30, low: 300 << 10, high: 1200 << 10 },
      { dir: 'assets/js', ext: 'js', count: 60, low: 20 << 10, high: 150 << 10 },
      { dir: 'pages', ext: 'html', count: 200, low: 1 << 10, high: 16 << 10 }
    ]
  writeRandom(root, '.htaccess', 512)
  for (const g of groups) {
    for (let i = 0; i < g.count; i++) {
      const sub = g.dir === 'pages' ? `/${['docs', 'blog', 'shop', 'help'][i % 4] ?? 'x'}` : ''
      writeRandom(root, `${g.dir}${sub}/${g.ext}-${i}.${g.ext}`, between(g.low, g.high))
    }
  }
}

/**
 * A small site of 45 files, 1 MB in all (~23 KB each), in three directories: what the network
 * cases ship across a round trip.
 */
export function makeSite(root: string): void {
  const rand = prng(3)
  const dirs = ['assets/js', 'assets/css', 'pages']
  const sizes = Array.from({ length: 45 }, () => 20_000 + Math.floor(rand() * 6_000))
  // Scaled so that the 45 files come to 1 MiB exactly.
  const total = sizes.reduce((a, b) => a + b, 0)
  let left = 1 << 20
  sizes.forEach((size, i) => {
    const bytes = i === sizes.length - 1 ? left : Math.round((size * (1 << 20)) / total)
    left -= bytes
    writeRandom(root, `${dirs[i % dirs.length] ?? 'x'}/file-${i}.bin`, bytes)
  })
}

/** `count` incompressible files of `size` bytes each (big/blob-N.bin), written 8 MB at a time. */
export function makeBigFiles(root: string, count: number, size: number): void {
  mkdirSync(path.join(root, 'big'), { recursive: true })
  const block = 8 << 20
  for (let i = 1; i <= count; i++) {
    const file = path.join(root, 'big', `blob-${i}.bin`)
    writeFileSync(file, '')
    for (let written = 0; written < size; written += block)
      appendFileSync(file, randomBytes(Math.min(block, size - written)))
  }
}

/** Relative paths of every regular file under `root`, sorted. */
export function listFiles(root: string, prefix = ''): string[] {
  const out: string[] = []
  for (const name of readdirSync(path.join(root, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name
    const stat = lstatSync(path.join(root, rel))
    if (stat.isDirectory()) out.push(...listFiles(root, rel))
    else if (stat.isFile()) out.push(rel)
  }
  return out
}

export function treeStats(root: string): TreeStats {
  const files = listFiles(root)
  const bytes = files.reduce((sum, rel) => sum + lstatSync(path.join(root, rel)).size, 0)
  return { files: files.length, bytes }
}

/**
 * A fresh build: a copy of `from` in `to` with every `every`th file (default 100th: 1%; the
 * middle one of each `every`) rewritten with new content of the same size, and every file's
 * mtime new, as a CI build produces it.
 */
export function makeIncrement(from: string, to: string, every = 100): Increment {
  // The previous build is an hour old (rsync compares mtimes to the second).
  const hourAgo = new Date(Date.now() - 3600_000)
  for (const rel of listFiles(from)) utimesSync(path.join(from, rel), hourAgo, hourAgo)
  cpSync(from, to, { recursive: true })
  const files = listFiles(to)
  const changed = files.filter((_, i) => i % every === every >> 1)
  let changedBytes = 0
  for (const rel of changed) {
    const size = lstatSync(path.join(to, rel)).size
    writeRandom(to, rel, size)
    changedBytes += size
  }
  const now = new Date()
  for (const rel of files) utimesSync(path.join(to, rel), now, now)
  return { changed, changedBytes }
}

/**
 * A note when `remote` lacks files of `local` (count or bytes differ), else undefined; throws when
 * one of `same` differs byte for byte.
 */
export function verifyTree(
  local: string,
  remote: string,
  same: readonly string[] = []
): string | undefined {
  const want = treeStats(local)
  const got = treeStats(remote)
  for (const rel of same) {
    if (!readFileSync(path.join(local, rel)).equals(readFileSync(path.join(remote, rel))))
      throw new Error(`${remote}/${rel} differs from ${local}/${rel}`)
  }
  if (got.files === want.files && got.bytes === want.bytes) return undefined
  return `${want.files - got.files} of ${want.files} files missing`
}

/** sha256 of every regular file of a tree, by relative path, streamed (for trees too big to hold). */
export async function digestTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const rel of listFiles(root)) {
    const hash = createHash('sha256')
    await pipeline(createReadStream(path.join(root, rel)), hash)
    out.set(rel, hash.digest('hex'))
  }
  return out
}

/** Throws unless `remote` holds exactly the files of `want`, each with the same sha256. */
export async function verifyDigests(
  want: ReadonlyMap<string, string>,
  remote: string
): Promise<void> {
  const got = await digestTree(remote)
  const missing = [...want.keys()].filter(rel => !got.has(rel))
  const extra = [...got.keys()].filter(rel => !want.has(rel))
  if (missing.length > 0 || extra.length > 0)
    throw new Error(`${remote}: ${missing.length} files missing, ${extra.length} extra`)
  for (const [rel, hex] of want)
    if (got.get(rel) !== hex) throw new Error(`${remote}/${rel} differs from the build`)
}
