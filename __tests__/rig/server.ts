/**
 * The handle every test server returns (OpenSSH, Dropbear, a proxy in front of one), and
 * the registry that stops whatever a test forgot: `stopAllSshd()` in afterAll, or the
 * exit hook outside Jest. Inside Jest the servers' pdeathsig covers a killed worker.
 */
import { rmSync } from 'node:fs'
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { KeyPair } from './keys.js'
import { withoutComment } from './keys.js'
import {
  HOST,
  isSettled,
  processTree,
  signalAll,
  terminate,
  waitUntil,
  type Launched
} from './proc.js'
import { assertReachable, ensureLoginUser, isRoot, type LoginUser } from './users.js'

export interface Sshd {
  readonly host: '127.0.0.1'
  readonly port: number
  readonly username: string
  /** The login user's home directory. */
  readonly home: string
  /** The login user's shell, as in /etc/passwd. */
  readonly shell: string
  /** Which SSH server answers on `port`. */
  readonly software: 'OpenSSH' | 'Dropbear'
  /** A fresh, unencrypted, authorised ed25519 client key (OpenSSH format). */
  readonly privateKey: string
  readonly publicKey: string
  /** The same private key as a 0600 file, for the `ssh` command line. */
  readonly privateKeyPath: string
  /** Set with `passwordAuthentication: true` or `keyboardInteractive: true`. */
  readonly password: string | undefined
  /** The host private key, OpenSSH format (Dropbear's converted). */
  readonly hostPrivateKey: string
  /** "ssh-ed25519 AAAA..." (no comment). */
  readonly hostPublicKey: string
  /** "SHA256:..." exactly as OpenSSH prints it. */
  readonly hostKeyFingerprint: string
  /** "[127.0.0.1]:PORT ssh-ed25519 AAAA..." */
  readonly knownHostsLine: string
  /** Every host key the server has, the primary one (above) first. */
  readonly hostKeys: readonly HostKey[]
  /** A known_hosts file holding `knownHostsLine` (the primary key only). */
  readonly knownHostsPath: string
  /** The server's temp dir (config, keys, pid file); removed by stop(). */
  readonly dir: string
  /** pid of the listening server. */
  readonly pid: number
  /** SIGTERM the server and its session processes, wait for them to exit, remove `dir`. Idempotent. */
  stop(): Promise<void>
  /** SIGKILL the server and every session process at once, like a dying server. `dir` stays until stop(). */
  kill(): Promise<void>
  /** What the server wrote to stderr so far (sshd: LogLevel VERBOSE). */
  logs(): string
}

export interface HostKey {
  /** "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa". */
  readonly type: string
  /** "TYPE AAAA..." (no comment). */
  readonly publicKey: string
  /** "SHA256:..." exactly as OpenSSH prints it. */
  readonly fingerprint: string
  /** "[127.0.0.1]:PORT TYPE AAAA..." */
  readonly knownHostsLine: string
}

/** The host keys of a server reached on `port`. */
export function hostKeysAt(port: number, keys: readonly KeyPair[]): HostKey[] {
  return keys.map(key => {
    const publicKey = withoutComment(key.publicKey)
    return {
      type: publicKey.split(' ')[0] ?? '',
      publicKey,
      fingerprint: key.fingerprint,
      knownHostsLine: `[${HOST}]:${port} ${publicKey}`
    }
  })
}

// ---------------------------------------------------------------------------------------
// Registry

/** Anything the rig must undo: a server, a proxy, a mount. */
export interface Stoppable {
  stop(): Promise<void>
  /** For the exit hook, where nothing async runs. */
  killSync(): void
}

const running = new Set<Stoppable>()
const testDirs = new Set<string>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Works outside Jest (scripts, bench); inside Jest the pdeathsig covers it.
  process.once('exit', () => {
    for (const item of running) item.killSync()
    for (const dir of testDirs) rmSync(dir, { recursive: true, force: true })
  })
}

/** Registers something stopAllSshd() (or the exit hook) must stop; stop() should unregister. */
export function register(item: Stoppable): void {
  running.add(item)
  installExitHook()
}

export function unregister(item: Stoppable): void {
  running.delete(item)
}

/**
 * Stops every server, proxy and mount this process started and removes every
 * makeTestDir() dir. For afterAll.
 */
export async function stopAllSshd(): Promise<void> {
  // Proxies and mounts first: they stand in front of (or under) the servers.
  await Promise.all([...running].filter(item => !(item instanceof RunningServer)).map(stop))
  await Promise.all([...running].map(stop))
  await Promise.all([...testDirs].map(dir => rm(dir, { recursive: true, force: true })))
  testDirs.clear()
}

function stop(item: Stoppable): Promise<void> {
  return item.stop()
}

// ---------------------------------------------------------------------------------------
// Test dirs

/**
 * A fresh directory under os.tmpdir() owned by and writable for a server's login user
 * (default: the default rig user `gdtest`), for use as a remote deploy path. Removed by
 * stopAllSshd().
 */
export async function makeTestDir(owner?: { readonly username: string }): Promise<string> {
  const user =
    owner === undefined || !isRoot()
      ? await ensureLoginUser()
      : await ensureLoginUser({ name: owner.username })
  await assertReachable(tmpdir(), user)
  const dir = await mkdtemp(join(tmpdir(), 'gdtest-deploy-'))
  testDirs.add(dir)
  installExitHook()
  if (isRoot()) await chown(dir, user.uid, user.gid)
  await chmod(dir, 0o755)
  return dir
}

// ---------------------------------------------------------------------------------------
// A running server

export interface ServerFields {
  readonly software: Sshd['software']
  readonly port: number
  readonly user: LoginUser
  readonly client: KeyPair
  readonly host: KeyPair
  /** More host keys besides `host` (sshd's extraHostKeyTypes). */
  readonly extraHostKeys?: readonly KeyPair[]
  readonly password: string | undefined
  readonly dir: string
  readonly launched: Launched
}

export class RunningServer implements Sshd, Stoppable {
  readonly host = HOST
  readonly software: Sshd['software']
  readonly port: number
  readonly username: string
  readonly home: string
  readonly shell: string
  readonly privateKey: string
  readonly publicKey: string
  readonly privateKeyPath: string
  readonly password: string | undefined
  readonly hostPrivateKey: string
  readonly hostPublicKey: string
  readonly hostKeyFingerprint: string
  readonly knownHostsLine: string
  readonly hostKeys: readonly HostKey[]
  readonly knownHostsPath: string
  readonly dir: string
  readonly pid: number
  readonly #launched: Launched
  #stopping: Promise<void> | undefined

  constructor(fields: ServerFields) {
    this.software = fields.software
    this.port = fields.port
    this.username = fields.user.name
    this.home = fields.user.home
    this.shell = fields.user.shell
    this.privateKey = fields.client.privateKey
    this.publicKey = fields.client.publicKey
    this.privateKeyPath = join(fields.dir, 'id_client')
    this.password = fields.password
    this.hostPrivateKey = fields.host.privateKey
    this.hostPublicKey = withoutComment(fields.host.publicKey)
    this.hostKeyFingerprint = fields.host.fingerprint
    this.knownHostsLine = `[${HOST}]:${fields.port} ${this.hostPublicKey}`
    this.hostKeys = hostKeysAt(fields.port, [fields.host, ...(fields.extraHostKeys ?? [])])
    this.knownHostsPath = join(fields.dir, 'known_hosts')
    this.dir = fields.dir
    this.pid = fields.launched.pid
    this.#launched = fields.launched
  }

  /** Writes the client key and known_hosts files and registers the server for cleanup. */
  async register(): Promise<this> {
    await writeFile(this.privateKeyPath, this.privateKey, { mode: 0o600 })
    await writeFile(this.knownHostsPath, `${this.knownHostsLine}\n`)
    register(this)
    return this
  }

  logs(): string {
    return this.#launched.stderr()
  }

  /** All at once, like a crash (orphaned session processes may stay zombies here). */
  async kill(): Promise<void> {
    const tree = processTree(this.pid)
    signalAll(tree, 'SIGKILL')
    await this.#launched.exited
    await waitUntil(() => tree.every(isSettled), 5000)
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #stop(): Promise<void> {
    await terminate(processTree(this.pid))
    await this.#launched.exited
    await rm(this.dir, { recursive: true, force: true })
    unregister(this)
  }

  killSync(): void {
    signalAll(processTree(this.pid), 'SIGKILL')
    rmSync(this.dir, { recursive: true, force: true })
  }
}
