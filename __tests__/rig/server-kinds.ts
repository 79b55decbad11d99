/**
 * The kinds of servers issue 10 deploys to, each a real server on 127.0.0.1 with its own
 * temp dir, port and host key, returning the same handle as startSshd() (so
 * `sshInputs(server, path)` and `makeTestDir(server)` work for all of them). Where the
 * login shell or dotfiles matter the kind has its own user (see KIND_USERS): every
 * server of one kind shares that account, whose dotfiles the rig writes identically each
 * time. stopAllSshd() stops them all.
 */
import { randomBytes } from 'node:crypto'
import { chmod, chown, mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startDropbear } from './dropbear.js'
import { startRefusingProxy, type RefusingProxy, type RefusingProxyOptions } from './flaky-proxy.js'
import type { Sshd } from './server.js'
import { startSshd, type SshdOptions } from './sshd.js'
import { bsdtarBin, busyboxBin, RIG_ROOT } from './tool-dirs.js'
import { ensureLoginUser, type LoginUser, type UserSpec } from './users.js'

export { startDropbear, type DropbearOptions } from './dropbear.js'
export { startRefusingProxy, type RefusingProxy, type RefusingProxyOptions } from './flaky-proxy.js'
export { makeSmallDisk, type SmallDisk } from './limited-fs.js'

const BUSYBOX_SHELL = join(RIG_ROOT, 'busybox', 'bin', 'sh')
const NORMAL_PATH = '/usr/local/bin:/usr/bin:/bin'

/** The dedicated login users of the kinds (all created as needed, as root). */
export const KIND_USERS = {
  dash: { name: 'gdtest-dash', shell: '/bin/dash' },
  bash: { name: 'gdtest-bash', shell: '/bin/bash' },
  busybox: { name: 'gdtest-busybox', shell: BUSYBOX_SHELL },
  bsdtar: { name: 'gdtest-bsdtar', shell: '/bin/sh' },
  greetingBash: { name: 'gdtest-greet', shell: '/bin/bash' },
  greetingSh: { name: 'gdtest-greet-sh', shell: '/bin/sh' },
  keyboardInteractive: { name: 'gdtest-kbd', shell: '/bin/bash' },
  homeless: { name: 'gdtest-nohome', shell: '/bin/sh' },
  dropbear: { name: 'gdtest-dropbear', shell: '/bin/sh' }
} as const satisfies Record<string, UserSpec>

/** Options of startSshd() a kind lets the caller add (the kind's own settings win). */
export type KindOptions = Omit<SshdOptions, 'user'>

/** OpenSSH whose login user's shell is /bin/dash (Debian's /bin/sh). */
export function startDashServer(options: KindOptions = {}): Promise<Sshd> {
  return startSshd({ ...options, user: KIND_USERS.dash })
}

/** OpenSSH whose login user's shell is /bin/bash (with Debian's stock ~/.bashrc). */
export function startBashServer(options: KindOptions = {}): Promise<Sshd> {
  return startSshd({ ...options, user: KIND_USERS.bash })
}

/**
 * Alpine-like: OpenSSH whose sessions have only BusyBox. The login shell is BusyBox's
 * `sh` and PATH (sshd_config SetEnv, which replaces sshd's default PATH) is a directory
 * of BusyBox applets alone: `tar`, `find`, `sha256sum`… are BusyBox's, there is no
 * openssl, no GNU tool, no bash on PATH (absolute paths like /usr/bin/tar still work).
 */
export async function startBusyboxServer(options: KindOptions = {}): Promise<Sshd> {
  const bin = await busyboxBin()
  return startSshd({
    ...options,
    user: KIND_USERS.busybox,
    env: { ...options.env, PATH: bin }
  })
}

/** OpenSSH whose sessions' PATH finds bsdtar (libarchive) as `tar`, and GNU tools otherwise. */
export async function startBsdtarServer(options: KindOptions = {}): Promise<Sshd> {
  const bin = await bsdtarBin()
  return startSshd({
    ...options,
    user: KIND_USERS.bsdtar,
    env: { ...options.env, PATH: `${bin}:${NORMAL_PATH}` }
  })
}

// ---------------------------------------------------------------------------------------
// Greetings

/** What the greeting servers print on stdout before every command's output. */
export const GREETING = 'Welcome to the gdtest server! Authorized use only. 42 updates available.'

export interface GreetingServer extends Sshd {
  readonly greeting: string
}

/** Writes a dotfile as `user` would own it; identical content from every worker, renamed in. */
async function writeDotfile(user: LoginUser, relative: string, text: string): Promise<void> {
  const path = join(user.home, relative)
  const dir = join(path, '..')
  if (dir !== user.home) {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await chown(dir, user.uid, user.gid)
  }
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(draft, text, { mode: 0o644 })
  await chown(draft, user.uid, user.gid)
  await chmod(draft, 0o644)
  await rename(draft, path)
}

/**
 * A login shell that prints a greeting on stdout before every command, as real servers do:
 * - 'bashrc': bash with a ~/.bashrc that echoes it first thing (Debian's bash reads
 *   ~/.bashrc for commands run by sshd, interactive or not);
 * - 'ssh-rc': a /bin/sh (dash) user whose ~/.ssh/rc echoes it; OpenSSH runs ~/.ssh/rc with
 *   the session's stdout before the command of every exec or shell session (never for the
 *   sftp subsystem). Dash reads no rc file for `sh -c`, so this is how sh users get noise.
 */
export async function startGreetingServer(
  via: 'bashrc' | 'ssh-rc',
  options: KindOptions = {}
): Promise<GreetingServer> {
  const spec = via === 'bashrc' ? KIND_USERS.greetingBash : KIND_USERS.greetingSh
  const user = await ensureLoginUser(spec)
  if (via === 'bashrc') {
    await writeDotfile(user, '.bashrc', `echo '${GREETING}'\n`)
  } else {
    await writeDotfile(user, '.ssh/rc', `#!/bin/sh\necho '${GREETING}'\n`)
  }
  const server = await startSshd({ ...options, user: spec })
  return Object.assign(server, { greeting: GREETING })
}

// ---------------------------------------------------------------------------------------
// Hardened and restricted servers

/** OpenSSH with `MaxSessions 1`: a second channel open at once on a connection is refused. */
export function startMaxSessionsServer(options: KindOptions = {}): Promise<Sshd> {
  return startSshd({ ...options, extraConfig: ['MaxSessions 1', ...(options.extraConfig ?? [])] })
}

/** A jump host: OpenSSH with `AllowTcpForwarding yes` or `no` (then forwardOut is refused). */
export function startJumpHost(
  allowTcpForwarding: boolean,
  options: KindOptions = {}
): Promise<Sshd> {
  const line = `AllowTcpForwarding ${allowTcpForwarding ? 'yes' : 'no'}`
  return startSshd({ ...options, extraConfig: [line, ...(options.extraConfig ?? [])] })
}

/** An SFTP-only account: `ForceCommand internal-sftp` (exec and shell get the SFTP server). */
export function startSftpOnlyServer(options: KindOptions = {}): Promise<Sshd> {
  const lines = ['ForceCommand internal-sftp', ...(options.extraConfig ?? [])]
  return startSshd({ ...options, extraConfig: lines })
}

/**
 * Password logins by keyboard-interactive only (PAM, as FreeBSD and macOS by default):
 * UsePAM yes, KbdInteractiveAuthentication yes, PasswordAuthentication no. PAM prompts
 * "Password: " (echo off) and checks the real password of `gdtest-kbd`, `Sshd.password`.
 */
export function startKeyboardInteractiveServer(options: KindOptions = {}): Promise<Sshd> {
  return startSshd({
    ...options,
    user: KIND_USERS.keyboardInteractive,
    keyboardInteractive: true,
    passwordAuthentication: false
  })
}

/**
 * OpenSSH whose login user's home directory (in /etc/passwd) does not exist: sshd says
 * "Could not chdir to home directory …" on stderr and runs commands in `/`.
 */
export async function startHomelessServer(options: KindOptions = {}): Promise<Sshd> {
  const user = await ensureLoginUser(KIND_USERS.homeless)
  await rm(user.home, { recursive: true, force: true })
  return startSshd({ ...options, user: KIND_USERS.homeless })
}

/**
 * OpenSSH whose sessions may not write a file larger than `limitBytes` (`ulimit -f`,
 * inherited from sshd): the writer is killed by SIGXFSZ (sh reports exit 153, "File size
 * limit exceeded"), or gets EFBIG "File too large" if it ignores SIGXFSZ.
 */
export function startFileSizeLimitedServer(
  limitBytes: number,
  options: KindOptions = {}
): Promise<Sshd> {
  return startSshd({ ...options, fileSizeLimit: limitBytes })
}

/**
 * OpenSSH behind a proxy that refuses its first `refuseFirst` connections (default 2);
 * the handle's port is the proxy's, and stop() stops both.
 */
export async function startFlakyServer(
  proxy: Omit<RefusingProxyOptions, 'stopsTarget'> = {},
  options: KindOptions = {}
): Promise<RefusingProxy> {
  return startRefusingProxy(await startSshd(options), { ...proxy, stopsTarget: true })
}

/** `count` OpenSSH servers, each with its own user `gdtest-fleetN` (N from 1), started at once. */
export function startFleet(count: number, options: KindOptions = {}): Promise<Sshd[]> {
  const users = Array.from({ length: count }, (_, i) => ({ name: `gdtest-fleet${i + 1}` }))
  return Promise.all(users.map(user => startSshd({ ...options, user })))
}

// ---------------------------------------------------------------------------------------
// The matrix of issue 10

export interface ServerKind {
  /** For test names: "OpenSSH, dash", "BusyBox", … */
  readonly name: string
  readonly start: () => Promise<Sshd>
}

/** Every POSIX server the deploy must work on, for `describe.each(SERVER_MATRIX)`. */
export const SERVER_MATRIX: readonly ServerKind[] = [
  { name: 'OpenSSH, dash', start: () => startDashServer() },
  { name: 'OpenSSH, bash', start: () => startBashServer() },
  { name: 'BusyBox only', start: () => startBusyboxServer() },
  { name: 'Dropbear', start: () => startDropbear() },
  { name: 'bsdtar', start: () => startBsdtarServer() }
]
