/**
 * A real Dropbear server (Debian `dropbear-bin`) on 127.0.0.1, in the foreground with its
 * own host key (made by dropbearkey, converted to OpenSSH format for known_hosts), logging
 * in as its own user, and returning the same handle as startSshd().
 *
 * Dropbear has no AuthorizedKeysFile option: it reads ~/.ssh/authorized_keys of the login
 * user. So that concurrent servers never rewrite each other's file, every Dropbear server
 * of one user authorises the same client key, made once per machine (kept root-only next
 * to the temp dirs); host keys, ports and dirs are still fresh per server.
 */
import { randomBytes } from 'node:crypto'
import { chmod, chown, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fingerprintOf, makeKeyPair, type KeyPair, type KeyType } from './keys.js'
import { findOnPath, installHint, isExecutable, launch, run, startOnFreePort } from './proc.js'
import { RunningServer, type Sshd } from './server.js'
import {
  assertReachable,
  ensureLoginUser,
  isRoot,
  setPassword,
  sharedSecret,
  type LoginUser,
  type UserSpec
} from './users.js'

const DROPBEAR_PATH = '/usr/sbin/dropbear'
export const DROPBEAR_USER: UserSpec = { name: 'gdtest-dropbear', shell: '/bin/sh' }

export interface DropbearOptions {
  /**
   * The login user (default `gdtest-dropbear` with /bin/sh). Dropbear refuses a login
   * shell that is not listed in /etc/shells.
   */
  readonly user?: UserSpec
  /** Type of the freshly generated host key (default ed25519); ignored with `hostKey`. */
  readonly hostKeyType?: KeyType
  /** Reuse this unencrypted host private key (OpenSSH format), converted with dropbearconvert. */
  readonly hostKey?: string
  /** Also allow password logins (no `-s`); the password is `Sshd.password`. */
  readonly passwordAuthentication?: boolean
  /** `false` passes -j -k: no local or remote port forwarding (default: allowed). */
  readonly allowTcpForwarding?: boolean
  /** More command-line options for dropbear (e.g. ['-c', 'forced command']). */
  readonly extraArgs?: readonly string[]
  /** RLIMIT_FSIZE in bytes for dropbear and every session, as for startSshd(). */
  readonly fileSizeLimit?: number
  /** How long to wait for Dropbear to accept connections (default 10 s). */
  readonly startTimeoutMs?: number
}

function assertDropbearInstalled(): string {
  const dropbear =
    findOnPath('dropbear') ?? (isExecutable(DROPBEAR_PATH) ? DROPBEAR_PATH : undefined)
  if (dropbear === undefined) {
    throw new Error(`Dropbear not found: ${DROPBEAR_PATH} is missing. ${installHint('dropbear')}`)
  }
  for (const tool of ['dropbearkey', 'dropbearconvert']) {
    if (findOnPath(tool) === undefined) {
      throw new Error(`Dropbear's ${tool} not found on PATH. ${installHint(tool)}`)
    }
  }
  return dropbear
}

/** "Public key portion is:\nssh-ed25519 AAAA... root@host\nFingerprint: ..." → the key line. */
function publicLineOf(dropbearkeyOutput: string): string {
  const line = dropbearkeyOutput.split('\n').find(text => /^(ssh|ecdsa)-\S+ \S+/.test(text))
  if (line === undefined) throw new Error(`Unexpected dropbearkey -y output: ${dropbearkeyOutput}`)
  return line.trim()
}

/** The host key in Dropbear's format at `path`, and the same key as an OpenSSH key pair. */
async function prepareHostKey(dir: string, options: DropbearOptions): Promise<KeyPair> {
  const path = join(dir, 'dropbear_host_key')
  const opensshPath = join(dir, 'ssh_host_key')
  if (options.hostKey === undefined) {
    await run('dropbearkey', ['-t', options.hostKeyType ?? 'ed25519', '-f', path])
    await run('dropbearconvert', ['dropbear', 'openssh', path, opensshPath])
  } else {
    const text = options.hostKey.endsWith('\n') ? options.hostKey : `${options.hostKey}\n`
    await writeFile(opensshPath, text, { mode: 0o600 })
    await run('dropbearconvert', ['openssh', 'dropbear', opensshPath, path])
  }
  const publicKey = publicLineOf((await run('dropbearkey', ['-y', '-f', path])).stdout)
  await writeFile(`${opensshPath}.pub`, `${publicKey}\n`)
  const [privateKey, fingerprint] = await Promise.all([
    readFile(opensshPath, 'utf8'),
    fingerprintOf(`${opensshPath}.pub`)
  ])
  return { privateKey, publicKey, fingerprint }
}

/** The client key every Dropbear server of `user` authorises (see the module comment). */
async function sharedClientKey(user: LoginUser, dir: string): Promise<KeyPair> {
  const privateKey = await sharedSecret(
    `${user.name}.dropbear-client-key`,
    async () => (await makeKeyPair({ comment: `${user.name}-dropbear-client` })).privateKey
  )
  const path = join(dir, 'id_client')
  await writeFile(path, privateKey, { mode: 0o600 })
  const publicKey = (await run('ssh-keygen', ['-y', '-f', path])).stdout.trim()
  await writeFile(`${path}.pub`, `${publicKey}\n`)
  return { privateKey, publicKey, fingerprint: await fingerprintOf(`${path}.pub`) }
}

/** ~/.ssh/authorized_keys as Dropbear demands it: owned by the user, not group/world-writable. */
async function authorise(user: LoginUser, client: KeyPair): Promise<void> {
  const sshDir = join(user.home, '.ssh')
  await mkdir(sshDir, { recursive: true, mode: 0o700 })
  await chown(sshDir, user.uid, user.gid)
  await chmod(sshDir, 0o700)
  const path = join(sshDir, 'authorized_keys')
  // Same content from every worker; written aside and renamed, so readers never see half.
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(draft, `${client.publicKey}\n`, { mode: 0o600 })
  await chown(draft, user.uid, user.gid)
  await rename(draft, path)
}

/** Starts Dropbear on 127.0.0.1 with a fresh host key, logging in as its own user. */
export async function startDropbear(options: DropbearOptions = {}): Promise<Sshd> {
  const dropbear = assertDropbearInstalled()
  if (!isRoot()) throw new Error('startDropbear needs root: Dropbear must switch to the login user')
  const user = await ensureLoginUser(options.user ?? DROPBEAR_USER)
  const password = options.passwordAuthentication === true ? await setPassword(user) : undefined
  await assertReachable(tmpdir(), user)
  const dir = await mkdtemp(join(tmpdir(), 'gdtest-dropbear-'))
  try {
    await chmod(dir, 0o711)
    const [host, client] = await Promise.all([
      prepareHostKey(dir, options),
      sharedClientKey(user, dir)
    ])
    await authorise(user, client)
    const pidPath = join(dir, 'dropbear.pid')
    const args = [
      '-F', // foreground
      '-E', // log to stderr
      '-w', // no root logins
      ...(options.passwordAuthentication === true ? [] : ['-s']),
      ...(options.allowTcpForwarding === false ? ['-j', '-k'] : []),
      '-r',
      join(dir, 'dropbear_host_key'),
      '-P',
      pidPath,
      ...(options.extraArgs ?? [])
    ]
    const { port, launched } = await startOnFreePort(
      'dropbear',
      pidPath,
      options.startTimeoutMs ?? 10_000,
      port =>
        Promise.resolve(
          launch(dropbear, [...args, '-p', `127.0.0.1:${port}`], {
            fileSizeLimit: options.fileSizeLimit
          })
        )
    )
    const fields = { port, user, client, host, password, dir, launched }
    return await new RunningServer({ software: 'Dropbear', ...fields }).register()
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
}
