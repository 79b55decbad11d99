/**
 * A remote path on a small filesystem of its own, for "disk full" tests: a tmpfs of
 * `sizeBytes` mounted on a fresh dir under os.tmpdir(), owned by a server's login user.
 * Writing past its size fails with ENOSPC ("No space left on device") for every writer,
 * root included (tmpfs keeps no reserved blocks). Needs root with CAP_SYS_ADMIN (true in
 * this container and in a privileged CI container). For "file too large" (EFBIG or
 * SIGXFSZ) use `fileSizeLimit` of startSshd()/startDropbear() instead.
 */
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { installHint, messageOf, run } from './proc.js'
import { register, unregister, type Stoppable } from './server.js'
import { ensureLoginUser, isRoot, TEST_USER } from './users.js'

export interface SmallDisk {
  /** The mount point: an empty dir owned by the login user, mode 0755. */
  readonly path: string
  readonly sizeBytes: number
  /** Unmounts and removes the dir. Idempotent; stopAllSshd() does it too. */
  stop(): Promise<void>
}

class MountedDisk implements SmallDisk, Stoppable {
  #stopping: Promise<void> | undefined

  constructor(
    readonly path: string,
    readonly sizeBytes: number
  ) {}

  stop(): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #stop(): Promise<void> {
    // Lazy: a session still inside it must not keep the mount (or the test) alive.
    await run('umount', ['-l', this.path]).catch(() => undefined)
    await rm(this.path, { recursive: true, force: true })
    unregister(this)
  }

  killSync(): void {
    try {
      execFileSync('umount', ['-l', this.path], { stdio: 'ignore' })
    } catch {
      // not mounted any more
    }
    rmSync(this.path, { recursive: true, force: true })
  }
}

/**
 * A tmpfs of `sizeBytes` (default 2 MiB) owned by `owner`'s login user (default the
 * default rig user), e.g. `makeSmallDisk(sshd)` for a `remote-path` that fills up.
 */
export async function makeSmallDisk(
  owner?: { readonly username: string },
  sizeBytes = 2 * 1024 * 1024
): Promise<SmallDisk> {
  if (!isRoot()) throw new Error('makeSmallDisk needs root: it mounts a tmpfs')
  const user = await ensureLoginUser({ name: owner?.username ?? TEST_USER })
  const path = await mkdtemp(join(tmpdir(), 'gdtest-small-disk-'))
  const options = `size=${sizeBytes},mode=0755,uid=${user.uid},gid=${user.gid}`
  try {
    await run('mount', ['-t', 'tmpfs', '-o', options, 'gdtest-small-disk', path])
  } catch (error) {
    await rm(path, { recursive: true, force: true })
    throw new Error(
      `makeSmallDisk could not mount a tmpfs on ${path} (needs root with CAP_SYS_ADMIN, e.g. a ` +
        `privileged container; ${installHint('mount')}): ${messageOf(error)}`
    )
  }
  const disk = new MountedDisk(path, sizeBytes)
  register(disk)
  return disk
}
