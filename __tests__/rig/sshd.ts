/**
 * Test rig: a real OpenSSH `sshd` on 127.0.0.1, started from a temp dir with its own
 * config, host key, client key and authorized_keys (DESIGN §7). No system sshd config
 * or service is used. As root it logs in as a dedicated unprivileged user (`gdtest`, or
 * the `user` option's, created once), never as root; as a normal user it logs in as that
 * user. The kinds of servers issue 10 deploys to are in server-kinds.ts.
 *
 *   const sshd = await startSshd()
 *   // connect to sshd.host:sshd.port as sshd.username with sshd.privateKey,
 *   // pinning sshd.hostPublicKey / sshd.hostKeyFingerprint / sshd.knownHostsLine
 *   await sshd.stop()
 *
 * Every sshd started is registered: `stopAllSshd()` in afterAll stops what a test forgot,
 * and the kernel sends sshd SIGKILL when the process that started it dies (setpriv
 * --pdeathsig), which also covers a Jest worker that is killed.
 */
import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  assertKeygenInstalled,
  makeKeyPair,
  prepareHostKey,
  type HostKeyOptions,
  type KeyPair,
  type KeyType
} from './keys.js'
import { HOST, installHint, isExecutable, launch, startOnFreePort } from './proc.js'
import { RunningServer, type Sshd } from './server.js'
import {
  assertReachable,
  ensureLoginUser,
  isRoot,
  setPassword,
  type LoginUser,
  type UserSpec
} from './users.js'

export { makeKeyPair, type KeyPair, type KeyPairOptions, type KeyType } from './keys.js'
export { portIsClosed } from './proc.js'
export { makeTestDir, stopAllSshd, type HostKey, type Sshd } from './server.js'
export type { UserSpec } from './users.js'

export const SSHD_PATH = '/usr/sbin/sshd'

export interface SshdOptions extends HostKeyOptions {
  /**
   * More host keys of these types besides the primary one (`hostKeyType`/`hostKey`), all
   * offered by sshd; the client's algorithm order picks one. See `Sshd.hostKeys`.
   */
  readonly extraHostKeyTypes?: readonly KeyType[]
  /** More public keys (authorized_keys lines) allowed to log in besides the rig's own. */
  readonly authorizedKeys?: readonly string[]
  /**
   * sshd_config lines. sshd keeps the first value of a keyword, so these go before the
   * rig's defaults and override them; a `Match` line and everything after it go last.
   */
  readonly extraConfig?: readonly string[]
  /** Also allow password logins; the password is `Sshd.password`. Needs root. */
  readonly passwordAuthentication?: boolean
  /**
   * Offer keyboard-interactive through PAM (UsePAM yes, KbdInteractiveAuthentication yes):
   * PAM asks "Password: " and checks the user's real password, `Sshd.password`. With
   * `passwordAuthentication` left off, `password` is not offered at all. Needs root.
   */
  readonly keyboardInteractive?: boolean
  /** The login user (default `gdtest`, shell /bin/bash). Another user needs root. */
  readonly user?: UserSpec
  /**
   * Environment of every session, as sshd_config `SetEnv` (applied after sshd's default
   * PATH, so `{ PATH: '/x' }` replaces it). Names [A-Za-z_][A-Za-z0-9_]*, values without `"`.
   * sshd honours only its first SetEnv line: do not put another in `extraConfig`.
   */
  readonly env?: Readonly<Record<string, string>>
  /**
   * RLIMIT_FSIZE (`ulimit -f`) in bytes for sshd and every session: a write past it kills
   * the writer with SIGXFSZ (the shell reports exit 153, "File size limit exceeded"), or
   * fails with EFBIG ("File too large") in a process that ignores SIGXFSZ.
   */
  readonly fileSizeLimit?: number
  /** Default /usr/sbin/sshd. */
  readonly sshdPath?: string
  /** How long to wait for sshd to accept connections (default 10 s). */
  readonly startTimeoutMs?: number
}

function assertInstalled(sshdPath: string): void {
  if (!isExecutable(sshdPath)) {
    throw new Error(
      `OpenSSH server not found: ${sshdPath} is missing or not executable. ${installHint('sshd')}`
    )
  }
  assertKeygenInstalled()
}

interface Layout {
  readonly dir: string
  readonly configPath: string
  readonly pidPath: string
  readonly hostKeyPath: string
  readonly authorizedKeysPath: string
  readonly extraHostKeyPaths: readonly string[]
}

function layoutOf(dir: string, extraHostKeyTypes: readonly KeyType[]): Layout {
  return {
    extraHostKeyPaths: extraHostKeyTypes.map((type, i) => join(dir, `ssh_host_key_${i}_${type}`)),
    dir,
    configPath: join(dir, 'sshd_config'),
    pidPath: join(dir, 'sshd.pid'),
    hostKeyPath: join(dir, 'ssh_host_key'),
    authorizedKeysPath: join(dir, 'authorized_keys')
  }
}

let versionPromise: Promise<readonly [number, number]> | undefined

/** [major, minor] of the installed sshd (`sshd -V`, or the usage banner of older ones). */
function sshdVersion(sshdPath: string): Promise<readonly [number, number]> {
  versionPromise ??= new Promise(resolve => {
    execFile(sshdPath, ['-V'], { encoding: 'utf8' }, (_error, stdout, stderr) => {
      const match = /OpenSSH_(\d+)\.(\d+)/.exec(`${stderr}${stdout}`)
      resolve(match === null ? [0, 0] : [Number(match[1]), Number(match[2])])
    })
  })
  return versionPromise
}

interface ConfigInput {
  readonly port: number
  readonly layout: Layout
  readonly user: string
  readonly passwordAuthentication: boolean
  readonly keyboardInteractive: boolean
  readonly env: Readonly<Record<string, string>>
  readonly extraConfig: readonly string[]
  readonly hasPerSourcePenalties: boolean
}

/** One SetEnv line: sshd honours only the first SetEnv directive of a config. */
function setEnvLines(env: Readonly<Record<string, string>>): string[] {
  const pairs = Object.entries(env).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || value.includes('"') || value.includes('\n')) {
      throw new Error(
        `startSshd env ${JSON.stringify(name)}=${JSON.stringify(value)}: names must be ` +
          '[A-Za-z_][A-Za-z0-9_]* and values must hold no double quote or newline'
      )
    }
    return `"${name}=${value}"`
  })
  return pairs.length === 0 ? [] : [`SetEnv ${pairs.join(' ')}`]
}

function renderConfig(input: ConfigInput): string {
  const matchAt = input.extraConfig.findIndex(line => /^\s*Match\s/i.test(line))
  const extra = matchAt < 0 ? input.extraConfig : input.extraConfig.slice(0, matchAt)
  const matchBlocks = matchAt < 0 ? [] : input.extraConfig.slice(matchAt)
  const defaults = [
    `Port ${input.port}`,
    `ListenAddress ${HOST}`,
    `HostKey ${input.layout.hostKeyPath}`,
    ...input.layout.extraHostKeyPaths.map(path => `HostKey ${path}`),
    `PidFile ${input.layout.pidPath}`,
    `AuthorizedKeysFile ${input.layout.authorizedKeysPath}`,
    `AllowUsers ${input.user}`,
    'StrictModes no',
    `UsePAM ${input.keyboardInteractive ? 'yes' : 'no'}`,
    'PubkeyAuthentication yes',
    `PasswordAuthentication ${input.passwordAuthentication ? 'yes' : 'no'}`,
    `KbdInteractiveAuthentication ${input.keyboardInteractive ? 'yes' : 'no'}`,
    'PermitRootLogin no',
    'PermitEmptyPasswords no',
    'Subsystem sftp internal-sftp',
    'LogLevel VERBOSE',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    // OpenSSH ≥ 9.8 would otherwise block 127.0.0.1 after the tests' deliberate failures.
    ...(input.hasPerSourcePenalties ? ['PerSourcePenalties no'] : [])
  ]
  return [...extra, ...setEnvLines(input.env), ...defaults, ...matchBlocks].join('\n') + '\n'
}

async function writeAuthorizedKeys(
  layout: Layout,
  client: KeyPair,
  options: SshdOptions
): Promise<void> {
  const authorized = [client.publicKey, ...(options.authorizedKeys ?? [])].map(key => key.trim())
  // sshd reads authorized_keys as the login user: world-readable, in a traversable dir.
  await writeFile(layout.authorizedKeysPath, authorized.join('\n') + '\n', { mode: 0o644 })
  await chmod(layout.authorizedKeysPath, 0o644)
}

async function passwordFor(user: LoginUser, options: SshdOptions): Promise<string | undefined> {
  const wanted = options.passwordAuthentication === true || options.keyboardInteractive === true
  return wanted ? setPassword(user) : undefined
}

/** Starts a real sshd on 127.0.0.1 with a fresh host key and client key. */
export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const sshdPath = options.sshdPath ?? SSHD_PATH
  assertInstalled(sshdPath)
  const user = await ensureLoginUser(options.user)
  const password = await passwordFor(user, options)
  await assertReachable(tmpdir(), user)
  // sshd running as root needs its privilege-separation directory.
  if (isRoot()) await mkdir('/run/sshd', { recursive: true, mode: 0o755 })
  const extraTypes = options.extraHostKeyTypes ?? []
  const layout = layoutOf(await mkdtemp(join(tmpdir(), 'gdtest-sshd-')), extraTypes)
  try {
    await chmod(layout.dir, 0o711)
    const [host, client, version, ...extraHostKeys] = await Promise.all([
      prepareHostKey(layout.hostKeyPath, options),
      makeKeyPair(),
      sshdVersion(sshdPath),
      ...extraTypes.map((type, i) =>
        prepareHostKey(layout.extraHostKeyPaths[i] ?? '', { hostKeyType: type })
      )
    ])
    await writeAuthorizedKeys(layout, client, options)
    const config = {
      layout,
      user: user.name,
      passwordAuthentication: options.passwordAuthentication === true,
      keyboardInteractive: options.keyboardInteractive === true,
      env: options.env ?? {},
      extraConfig: options.extraConfig ?? [],
      hasPerSourcePenalties: version[0] > 9 || (version[0] === 9 && version[1] >= 8)
    }
    const { port, launched } = await startOnFreePort(
      'sshd',
      layout.pidPath,
      options.startTimeoutMs ?? 10_000,
      async port => {
        await writeFile(layout.configPath, renderConfig({ ...config, port }))
        return launch(sshdPath, ['-D', '-e', '-f', layout.configPath], {
          fileSizeLimit: options.fileSizeLimit
        })
      }
    )
    const fields = { port, user, client, host, extraHostKeys, password, dir: layout.dir, launched }
    return await new RunningServer({ software: 'OpenSSH', ...fields }).register()
  } catch (error) {
    await rm(layout.dir, { recursive: true, force: true })
    throw error
  }
}
