/**
 * Login users of the test servers. As root the rig logs in as dedicated unprivileged users
 * (`gdtest` by default, or another `gdtest…` name with its own shell and home, created
 * once and kept); as a normal user it logs in as that user. Several Jest workers may get
 * here at once: every step is re-checked and retried, never assumed.
 */
import { randomBytes } from 'node:crypto'
import { link, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import { dirname, join } from 'node:path'
import { converge, isErrno, run } from './proc.js'

export const TEST_USER = 'gdtest'
const DEFAULT_SHELL = '/bin/bash'
const NAME_PATTERN = /^gdtest[a-z0-9-]{0,24}$/

export interface LoginUser {
  readonly name: string
  readonly uid: number
  readonly gid: number
  readonly home: string
  readonly shell: string
}

/**
 * A dedicated login user. Every server started for the same name shares the account (its
 * shell, its home and the dotfiles in it), so give a user its own name whenever its shell
 * or dotfiles differ from another's.
 */
export interface UserSpec {
  /** `gdtest` followed by up to 24 of [a-z0-9-], e.g. `gdtest-dash`, `gdtest-fleet2`. */
  readonly name: string
  /**
   * Login shell, enforced on every start (default /bin/bash for a new user; an existing
   * user keeps its shell when this is not given).
   */
  readonly shell?: string
}

export function isRoot(): boolean {
  return process.getuid?.() === 0
}

async function lookupUser(name: string): Promise<LoginUser | undefined> {
  try {
    const { stdout } = await run('getent', ['passwd', name])
    const [, , uid, gid, , home, shell] = stdout.trim().split(':')
    if (uid === undefined || gid === undefined || home === undefined || shell === undefined)
      return undefined
    return { name, uid: Number(uid), gid: Number(gid), home, shell }
  } catch {
    return undefined
  }
}

async function shadowPassword(name: string): Promise<string> {
  const { stdout } = await run('getent', ['shadow', name])
  return stdout.trim().split(':')[1] ?? ''
}

/**
 * sshd without PAM refuses every login (pubkey included) to an account whose shadow
 * password starts with '!' (locked), and useradd's default is '!'. '*' is password-less
 * but not locked.
 */
async function isUnlocked(name: string): Promise<boolean> {
  const password = await shadowPassword(name)
  return password !== '' && !password.startsWith('!')
}

function assertUserSpec(spec: UserSpec): void {
  if (!NAME_PATTERN.test(spec.name)) {
    throw new Error(
      `Test user name ${JSON.stringify(spec.name)} is not allowed: the rig only creates and changes ` +
        'accounts named gdtest followed by up to 24 of a-z, 0-9 and "-" (e.g. gdtest-fleet2)'
    )
  }
  if (spec.shell !== undefined && !spec.shell.startsWith('/')) {
    throw new Error(`Login shell ${JSON.stringify(spec.shell)} must be an absolute path`)
  }
}

/**
 * As root: the user `spec` names (default `gdtest`), created if missing, unlocked, with
 * `spec.shell` as login shell when given. As a normal user: that user (only the default
 * spec is allowed then).
 */
export async function ensureLoginUser(spec: UserSpec = { name: TEST_USER }): Promise<LoginUser> {
  assertUserSpec(spec)
  if (!isRoot()) {
    if (spec.name !== TEST_USER || spec.shell !== undefined) {
      throw new Error(`A dedicated test user (${spec.name}) needs root: run the tests as root`)
    }
    const me = userInfo()
    return { name: me.username, uid: me.uid, gid: me.gid, home: me.homedir, shell: me.shell ?? '' }
  }
  const { name } = spec
  await converge(
    `create the test user ${name}`,
    async () => (await lookupUser(name)) !== undefined,
    async () => {
      const shell = spec.shell ?? DEFAULT_SHELL
      const args = ['--create-home', '--home-dir', `/home/${name}`, '--shell', shell]
      await run('useradd', [...args, '--user-group', '--password', '*', name])
    }
  )
  await converge(
    `unlock the test user ${name}`,
    () => isUnlocked(name),
    async () => {
      await run('usermod', ['--password', '*', name])
    }
  )
  const shell = spec.shell
  if (shell !== undefined) {
    await converge(
      `set the login shell of ${name} to ${shell}`,
      async () => (await lookupUser(name))?.shell === shell,
      async () => {
        await run('usermod', ['--shell', shell, name])
      }
    )
  }
  const user = await lookupUser(name)
  if (user === undefined) throw new Error(`The test user ${name} vanished`)
  return user
}

/**
 * A root-only file next to the temp dirs holding `create()`'s text, made once per machine
 * (the first worker's text wins, atomically), so concurrent suites agree on it and it is
 * never a well-known value.
 */
export async function sharedSecret(label: string, create: () => Promise<string>): Promise<string> {
  const path = join(tmpdir(), `gated-deploy-rig-${label}`)
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`
  try {
    await writeFile(draft, await create(), { mode: 0o600 })
    await link(draft, path)
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw error
  } finally {
    await rm(draft, { force: true })
  }
  const info = await stat(path)
  if (info.uid !== (process.getuid?.() ?? 0) || (info.mode & 0o077) !== 0) {
    throw new Error(
      `${path} must be owned by the test user with mode 0600; remove it and run again`
    )
  }
  return readFile(path, 'utf8')
}

/** Gives `user` its machine-wide random test password (see sharedSecret) and returns it. */
export async function setPassword(user: LoginUser): Promise<string> {
  if (!isRoot()) {
    throw new Error(
      'passwordAuthentication needs root: sshd without PAM checks /etc/shadow, which only root can read, ' +
        "and the rig will not change the current user's password"
    )
  }
  const password = await sharedSecret(`${user.name}.password`, () =>
    Promise.resolve(randomBytes(18).toString('base64url'))
  )
  await run('chpasswd', [], `${user.name}:${password}\n`)
  return password
}

/** Every directory from `/` down to `path` must be searchable by the login user. */
export async function assertReachable(path: string, user: LoginUser): Promise<void> {
  for (let dir = path; ; dir = dirname(dir)) {
    const info = await stat(dir)
    const searchable = info.uid === user.uid ? (info.mode & 0o100) !== 0 : (info.mode & 0o001) !== 0
    if (!searchable) {
      throw new Error(
        `${dir} is not searchable by the SSH test user ${user.name}; ` +
          'point TMPDIR at a directory everyone can reach (e.g. TMPDIR=/tmp)'
      )
    }
    if (dir === dirname(dir)) return
  }
}
