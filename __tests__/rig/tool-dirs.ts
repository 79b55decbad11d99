/**
 * Machine-wide directories of symlinks the test servers put on their sessions' PATH (and
 * use as login shells): made once under /opt/gated-deploy-rig, never changed afterwards,
 * safe when several Jest workers make them at once. Like the test users, they are kept.
 */
import { access, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { findOnPath, installHint, isErrno, run } from './proc.js'
import { isRoot } from './users.js'

export const RIG_ROOT = '/opt/gated-deploy-rig'
const COMPLETE = '.complete'

/**
 * `RIG_ROOT/name/bin` holding `links` (file name → symlink target). Built aside and renamed
 * into place, so a reader sees all of it or none of it.
 */
async function ensureLinkDir(
  name: string,
  links: Readonly<Record<string, string>>
): Promise<string> {
  const home = join(RIG_ROOT, name)
  const bin = join(home, 'bin')
  if (await exists(join(bin, COMPLETE))) return bin
  if (!isRoot()) throw new Error(`Making ${bin} needs root: run the tests as root`)
  await mkdir(home, { recursive: true, mode: 0o755 })
  const draft = join(home, `bin.${process.pid}.${Date.now()}`)
  await mkdir(draft, { mode: 0o755 })
  try {
    await Promise.all(
      Object.entries(links).map(([file, target]) => symlink(target, join(draft, file)))
    )
    await writeFile(join(draft, COMPLETE), '')
    await rename(draft, bin)
  } catch (error) {
    // Another worker renamed its copy first: same content, keep it.
    if (!(isErrno(error, 'ENOTEMPTY') || isErrno(error, 'EEXIST'))) throw error
  } finally {
    await rm(draft, { recursive: true, force: true })
  }
  if (!(await exists(join(bin, COMPLETE)))) throw new Error(`Could not make ${bin}`)
  return bin
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

function requireProgram(name: string): string {
  const path = findOnPath(name)
  if (path === undefined) throw new Error(`${name} not found on PATH. ${installHint(name)}`)
  return path
}

/**
 * `/opt/gated-deploy-rig/busybox/bin`: one symlink to busybox per applet (`busybox --list`)
 * and nothing else, so `sh`, `tar`, `find`, `sha256sum`… are BusyBox's and there is no
 * openssl. Its `sh` is the BusyBox login shell (busybox picks the applet from argv[0]).
 */
export async function busyboxBin(): Promise<string> {
  const busybox = requireProgram('busybox')
  const bin = join(RIG_ROOT, 'busybox', 'bin')
  if (await exists(join(bin, COMPLETE))) return bin
  const applets = (await run(busybox, ['--list'])).stdout
    .split('\n')
    .filter(name => /^[\w.[-]+$/.test(name))
  return ensureLinkDir('busybox', Object.fromEntries(applets.map(name => [name, busybox])))
}

/** `/opt/gated-deploy-rig/bsdtar/bin`: `tar` is bsdtar (libarchive); put it first on PATH. */
export async function bsdtarBin(): Promise<string> {
  const bsdtar = requireProgram('bsdtar')
  return ensureLinkDir('bsdtar', { tar: bsdtar })
}
