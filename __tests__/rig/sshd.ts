/**
 * Test rig: a real OpenSSH `sshd` on 127.0.0.1, started from a temp dir with its own
 * config, host key, client key and authorized_keys (DESIGN §7). No system sshd config
 * or service is used. As root it logs in as a dedicated unprivileged user (`gdtest`,
 * created once), never as root; as a normal user it logs in as that user.
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
import { execFile, spawn, type ChildProcess, type ExecFileException } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { accessSync, constants, readdirSync, readFileSync, rmSync } from 'node:fs'
import { chmod, chown, link, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { Socket, createConnection, createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'

export const SSHD_PATH = '/usr/sbin/sshd'
const INSTALL_HINT = 'Install it with: apt-get install -y openssh-server'
const TEST_USER = 'gdtest'
const TEST_HOME = `/home/${TEST_USER}`
const HOST = '127.0.0.1'
const PORT_ATTEMPTS = 5
const POLL_MS = 20
const MAX_LOG_CHARS = 1_000_000

export type KeyType = 'ed25519' | 'ecdsa' | 'rsa'

export interface KeyPair {
  /** OpenSSH private key text ("-----BEGIN OPENSSH PRIVATE KEY-----"). */
  readonly privateKey: string
  /** One authorized_keys line: "ssh-ed25519 AAAA... comment". */
  readonly publicKey: string
  /** "SHA256:..." as `ssh-keygen -l` prints it. */
  readonly fingerprint: string
}

export interface KeyPairOptions {
  readonly type?: KeyType
  /** Encrypts the private key with this passphrase. */
  readonly passphrase?: string
  readonly comment?: string
}

export interface SshdOptions {
  /** More public keys (authorized_keys lines) allowed to log in besides the rig's own. */
  readonly authorizedKeys?: readonly string[]
  /** Type of the freshly generated host key (default ed25519); ignored with `hostKey`. */
  readonly hostKeyType?: KeyType
  /** Reuse this unencrypted host private key (e.g. another rig's `hostPrivateKey`). */
  readonly hostKey?: string
  /**
   * sshd_config lines. sshd keeps the first value of a keyword, so these go before the
   * rig's defaults and override them; a `Match` line and everything after it go last.
   */
  readonly extraConfig?: readonly string[]
  /** Also allow password logins; the password is `Sshd.password`. Needs root. */
  readonly passwordAuthentication?: boolean
  /** Default /usr/sbin/sshd. */
  readonly sshdPath?: string
  /** How long to wait for sshd to accept connections (default 10 s). */
  readonly startTimeoutMs?: number
}

export interface Sshd {
  readonly host: '127.0.0.1'
  readonly port: number
  readonly username: string
  /** The login user's home directory. */
  readonly home: string
  /** A fresh, unencrypted, authorised ed25519 client key (OpenSSH format). */
  readonly privateKey: string
  readonly publicKey: string
  /** The same private key as a 0600 file, for the `ssh` command line. */
  readonly privateKeyPath: string
  /** Set with `passwordAuthentication: true`. */
  readonly password: string | undefined
  readonly hostPrivateKey: string
  /** "ssh-ed25519 AAAA..." (no comment). */
  readonly hostPublicKey: string
  /** "SHA256:..." exactly as OpenSSH prints it. */
  readonly hostKeyFingerprint: string
  /** "[127.0.0.1]:PORT ssh-ed25519 AAAA..." */
  readonly knownHostsLine: string
  /** A known_hosts file holding `knownHostsLine`. */
  readonly knownHostsPath: string
  /** The rig's temp dir (config, keys, pid file); removed by stop(). */
  readonly dir: string
  /** pid of the listening sshd. */
  readonly pid: number
  /** SIGTERM sshd and its session processes, wait for them to exit, remove `dir`. Idempotent. */
  stop(): Promise<void>
  /** SIGKILL sshd and every session process at once, like a dying server. `dir` stays until stop(). */
  kill(): Promise<void>
  /** What sshd wrote to stderr so far (LogLevel VERBOSE). */
  logs(): string
}

interface LoginUser {
  readonly name: string
  readonly uid: number
  readonly gid: number
  readonly home: string
}

// ---------------------------------------------------------------------------------------
// Running commands

interface Output {
  readonly stdout: string
  readonly stderr: string
}

function toCommandError(
  file: string,
  args: readonly string[],
  error: ExecFileException,
  stderr: string
): Error {
  if (error.code === 'ENOENT') {
    return new Error(`${file} not found: the SSH tests need OpenSSH. ${INSTALL_HINT}`)
  }
  const detail = stderr.trim() === '' ? error.message : stderr.trim()
  return new Error(`${file} ${args.join(' ')} failed (exit ${String(error.code)}): ${detail}`)
}

/** Runs a program without a shell; `input` goes to its stdin (so secrets stay off argv). */
function run(file: string, args: readonly string[], input = ''): Promise<Output> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { encoding: 'utf8', timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error === null) resolve({ stdout, stderr })
        else reject(toCommandError(file, args, error, stderr))
      }
    )
    child.stdin?.on('error', () => undefined) // EPIPE when it exits without reading
    child.stdin?.end(input)
  })
}

function findOnPath(name: string): string | undefined {
  const dirs = (process.env['PATH'] ?? '/usr/bin:/bin').split(delimiter).filter(dir => dir !== '')
  return dirs.map(dir => join(dir, name)).find(isExecutable)
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function assertKeygenInstalled(): void {
  if (findOnPath('ssh-keygen') === undefined) {
    throw new Error(`OpenSSH ssh-keygen not found on PATH. ${INSTALL_HINT}`)
  }
}

function assertInstalled(sshdPath: string): void {
  if (!isExecutable(sshdPath)) {
    throw new Error(
      `OpenSSH server not found: ${sshdPath} is missing or not executable. ${INSTALL_HINT}`
    )
  }
  assertKeygenInstalled()
}

/** Retries `act` until `done()` holds: tolerates races with other Jest workers. */
async function converge(
  what: string,
  done: () => Promise<boolean>,
  act: () => Promise<void>
): Promise<void> {
  let lastError: unknown
  for (let attempt = 0; attempt < 10; attempt++) {
    if (await done()) return
    try {
      await act()
    } catch (error) {
      lastError = error
      await delay(100 + Math.floor(Math.random() * 200))
    }
  }
  if (await done()) return
  throw new Error(`Could not ${what}: ${messageOf(lastError)}`)
}

// ---------------------------------------------------------------------------------------
// Keys

async function generateKey(path: string, options: KeyPairOptions): Promise<void> {
  const type = options.type ?? 'ed25519'
  const bits = type === 'rsa' ? ['-b', '2048'] : []
  const comment = options.comment ?? 'gated-deploy-test'
  await run('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...bits,
    '-N',
    options.passphrase ?? '',
    '-C',
    comment,
    '-f',
    path
  ])
}

async function fingerprintOf(publicKeyPath: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', publicKeyPath])
  const fingerprint = stdout.split(' ')[1]
  if (fingerprint?.startsWith('SHA256:') !== true) {
    throw new Error(`Unexpected ssh-keygen -l output: ${stdout}`)
  }
  return fingerprint
}

async function readKeyPair(path: string): Promise<KeyPair> {
  const [privateKey, publicKey, fingerprint] = await Promise.all([
    readFile(path, 'utf8'),
    readFile(`${path}.pub`, 'utf8'),
    fingerprintOf(`${path}.pub`)
  ])
  return { privateKey, publicKey: publicKey.trim(), fingerprint }
}

/** A fresh key pair made by ssh-keygen (OpenSSH format), optionally passphrase-protected. */
export async function makeKeyPair(options: KeyPairOptions = {}): Promise<KeyPair> {
  assertKeygenInstalled()
  const dir = await mkdtemp(join(tmpdir(), 'gdtest-key-'))
  try {
    await generateKey(join(dir, 'id'), options)
    return await readKeyPair(join(dir, 'id'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Writes the host key into `path` (0600, as sshd demands) and returns it with its public half. */
async function prepareHostKey(path: string, options: SshdOptions): Promise<KeyPair> {
  if (options.hostKey === undefined) {
    await generateKey(path, {
      type: options.hostKeyType ?? 'ed25519',
      comment: 'gated-deploy-test-host'
    })
  } else {
    const text = options.hostKey.endsWith('\n') ? options.hostKey : `${options.hostKey}\n`
    await writeFile(path, text, { mode: 0o600 })
    const { stdout } = await run('ssh-keygen', ['-y', '-f', path])
    await writeFile(`${path}.pub`, stdout)
  }
  return readKeyPair(path)
}

/** "ssh-ed25519 AAAA... comment" → "ssh-ed25519 AAAA..." */
function withoutComment(publicKey: string): string {
  return publicKey.split(/\s+/).slice(0, 2).join(' ')
}

// ---------------------------------------------------------------------------------------
// The login user

function isRoot(): boolean {
  return process.getuid?.() === 0
}

async function lookupUser(name: string): Promise<LoginUser | undefined> {
  try {
    const { stdout } = await run('getent', ['passwd', name])
    const [, , uid, gid, , home] = stdout.trim().split(':')
    if (uid === undefined || gid === undefined || home === undefined) return undefined
    return { name, uid: Number(uid), gid: Number(gid), home }
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

/**
 * As root: the dedicated user `gdtest` (created if missing, unlocked). Several Jest
 * workers may get here at once: every step is re-checked and retried, never assumed.
 */
async function ensureLoginUser(): Promise<LoginUser> {
  if (!isRoot()) {
    const me = userInfo()
    return { name: me.username, uid: me.uid, gid: me.gid, home: me.homedir }
  }
  await converge(
    `create the test user ${TEST_USER}`,
    async () => (await lookupUser(TEST_USER)) !== undefined,
    async () => {
      const args = [
        '--create-home',
        '--home-dir',
        TEST_HOME,
        '--shell',
        '/bin/bash',
        '--user-group'
      ]
      await run('useradd', [...args, '--password', '*', TEST_USER])
    }
  )
  await converge(
    `unlock the test user ${TEST_USER}`,
    () => isUnlocked(TEST_USER),
    async () => {
      await run('usermod', ['--password', '*', TEST_USER])
    }
  )
  const user = await lookupUser(TEST_USER)
  if (user === undefined) throw new Error(`The test user ${TEST_USER} vanished`)
  return user
}

/**
 * One random password per machine for `gdtest`, kept root-only next to the temp dirs, so
 * concurrent suites agree on it and it is never a well-known one.
 */
async function testPassword(): Promise<string> {
  const path = join(tmpdir(), `gated-deploy-rig-${TEST_USER}.password`)
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`
  try {
    await writeFile(draft, randomBytes(18).toString('base64url'), { mode: 0o600 })
    await link(draft, path) // atomic: the first worker's password wins
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw error
  } finally {
    await rm(draft, { force: true })
  }
  const info = await stat(path)
  if (info.uid !== 0 || (info.mode & 0o077) !== 0) {
    throw new Error(`${path} must be owned by root with mode 0600; remove it and run again`)
  }
  return readFile(path, 'utf8')
}

async function setPassword(user: LoginUser): Promise<string> {
  if (!isRoot()) {
    throw new Error(
      'passwordAuthentication needs root: sshd without PAM checks /etc/shadow, which only root can read, ' +
        "and the rig will not change the current user's password"
    )
  }
  const password = await testPassword()
  await run('chpasswd', [], `${user.name}:${password}\n`)
  return password
}

// Structural checks: under Jest, errors from Node's fs are not `instanceof Error` (another realm).
function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === code
}

function messageOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error)
    return String(error.message)
  return String(error)
}

/** Every directory from `/` down to `path` must be searchable by the login user. */
async function assertReachable(path: string, user: LoginUser): Promise<void> {
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

// ---------------------------------------------------------------------------------------
// Processes (Linux /proc): sshd forks a session process per connection that calls
// setsid(), so neither killing sshd nor its process group ends live sessions.

interface ProcessRef {
  readonly pid: number
  readonly startTime: string
  /** 0 for the root of a tree, 1 for its children, ... */
  readonly depth: number
}

interface ProcStat {
  readonly ppid: number
  readonly state: string
  readonly startTime: string
}

function readStat(pid: number): ProcStat | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // "pid (comm) state ppid ... starttime(22nd)"; comm may hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const [state, ppid] = fields
  const startTime = fields[19]
  if (state === undefined || ppid === undefined || startTime === undefined) return undefined
  return { ppid: Number(ppid), state, startTime }
}

/** `root` and all its descendants, each with its start time (so a reused pid is never hit). */
function processTree(root: number): ProcessRef[] {
  const children = new Map<number, Omit<ProcessRef, 'depth'>[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const info = readStat(Number(name))
    if (info === undefined) continue
    const siblings = children.get(info.ppid) ?? []
    siblings.push({ pid: Number(name), startTime: info.startTime })
    children.set(info.ppid, siblings)
  }
  const rootStat = readStat(root)
  if (rootStat === undefined) return []
  const tree: ProcessRef[] = [{ pid: root, startTime: rootStat.startTime, depth: 0 }]
  for (let i = 0; i < tree.length; i++) {
    const parent = tree[i]
    if (parent === undefined) continue
    const kids = children.get(parent.pid) ?? []
    tree.push(...kids.map(kid => ({ ...kid, depth: parent.depth + 1 })))
  }
  return tree
}

function isAlive(ref: ProcessRef): boolean {
  const info = readStat(ref.pid)
  return info !== undefined && info.startTime === ref.startTime && info.state !== 'Z'
}

function signalAll(refs: readonly ProcessRef[], signal: NodeJS.Signals): void {
  for (const ref of refs.filter(isAlive)) {
    try {
      process.kill(ref.pid, signal)
    } catch (error) {
      if (!isErrno(error, 'ESRCH')) throw error
    }
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) return false
    await delay(POLL_MS)
  }
  return true
}

/**
 * Gone, or a zombie its parent will not reap because the parent is gone too (orphans go
 * to pid 1, which here reaps them only after a while).
 */
function isSettled(ref: ProcessRef): boolean {
  const info = readStat(ref.pid)
  if (info === undefined || info.startTime !== ref.startTime) return true
  if (info.state !== 'Z') return false
  const parent = readStat(info.ppid)
  return info.ppid === 1 || parent === undefined || parent.state === 'Z'
}

/** Signals the tree deepest level first, so each process dies while its parent can reap it. */
async function endTree(tree: readonly ProcessRef[], signal: NodeJS.Signals): Promise<boolean> {
  const depths = [...new Set(tree.map(ref => ref.depth))].sort((a, b) => b - a)
  for (const depth of depths) {
    const level = tree.filter(ref => ref.depth === depth)
    signalAll(level, signal)
    await waitUntil(() => level.every(isSettled), 2000)
  }
  return tree.every(isSettled)
}

/** SIGTERM, then SIGKILL for whatever did not exit. */
async function terminate(tree: readonly ProcessRef[]): Promise<void> {
  if (!(await endTree(tree, 'SIGTERM'))) await endTree(tree, 'SIGKILL')
}

// ---------------------------------------------------------------------------------------
// Registry: whatever a test forgets is stopped by stopAllSshd() or at process exit.

const running = new Set<RunningSshd>()
const testDirs = new Set<string>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Works outside Jest (scripts, bench); inside Jest the pdeathsig covers it.
  process.once('exit', () => {
    for (const sshd of running) sshd.killSync()
    for (const dir of testDirs) rmSync(dir, { recursive: true, force: true })
  })
}

/** Stops every sshd this process started and removes every makeTestDir() dir. For afterAll. */
export async function stopAllSshd(): Promise<void> {
  await Promise.all([...running].map(sshd => sshd.stop()))
  await Promise.all([...testDirs].map(dir => rm(dir, { recursive: true, force: true })))
  testDirs.clear()
}

// ---------------------------------------------------------------------------------------
// Test dirs

/**
 * A fresh directory under os.tmpdir() owned by and writable for the SSH login user, for
 * use as a remote deploy path. Removed by stopAllSshd().
 */
export async function makeTestDir(): Promise<string> {
  const user = await ensureLoginUser()
  await assertReachable(tmpdir(), user)
  const dir = await mkdtemp(join(tmpdir(), 'gdtest-deploy-'))
  testDirs.add(dir)
  installExitHook()
  if (isRoot()) await chown(dir, user.uid, user.gid)
  await chmod(dir, 0o755)
  return dir
}

// ---------------------------------------------------------------------------------------
// sshd

interface Layout {
  readonly dir: string
  readonly configPath: string
  readonly pidPath: string
  readonly hostKeyPath: string
  readonly authorizedKeysPath: string
}

function layoutOf(dir: string): Layout {
  return {
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
  readonly extraConfig: readonly string[]
  readonly hasPerSourcePenalties: boolean
}

function renderConfig(input: ConfigInput): string {
  const matchAt = input.extraConfig.findIndex(line => /^\s*Match\s/i.test(line))
  const extra = matchAt < 0 ? input.extraConfig : input.extraConfig.slice(0, matchAt)
  const matchBlocks = matchAt < 0 ? [] : input.extraConfig.slice(matchAt)
  const defaults = [
    `Port ${input.port}`,
    `ListenAddress ${HOST}`,
    `HostKey ${input.layout.hostKeyPath}`,
    `PidFile ${input.layout.pidPath}`,
    `AuthorizedKeysFile ${input.layout.authorizedKeysPath}`,
    `AllowUsers ${input.user}`,
    'StrictModes no',
    'UsePAM no',
    'PubkeyAuthentication yes',
    `PasswordAuthentication ${input.passwordAuthentication ? 'yes' : 'no'}`,
    'KbdInteractiveAuthentication no',
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
  return [...extra, ...defaults, ...matchBlocks].join('\n') + '\n'
}

/** A port that was free a moment ago; sshd may still lose a race for it (then we retry). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, HOST, () => {
      const address = server.address()
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port)
        else reject(new Error('Could not find a free port'))
      })
    })
  })
}

/** Resolves true when something on the port answers with an SSH banner. */
function answersSsh(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket: Socket = createConnection({ host: HOST, port })
    const done = (result: boolean): void => {
      socket.destroy()
      resolve(result)
    }
    socket.setTimeout(2000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('data', data => done(data.toString('latin1').startsWith('SSH-')))
  })
}

async function readPidFile(path: string): Promise<number | undefined> {
  try {
    return Number((await readFile(path, 'utf8')).trim())
  } catch {
    return undefined
  }
}

class StartFailure extends Error {
  constructor(
    message: string,
    readonly portTaken: boolean
  ) {
    super(message)
    this.name = 'StartFailure'
  }
}

interface Launched {
  readonly child: ChildProcess
  readonly pid: number
  readonly exited: Promise<void>
  readonly stderr: () => string
}

function launch(sshdPath: string, configPath: string): Launched {
  const sshdArgs = ['-D', '-e', '-f', configPath]
  // setpriv makes the kernel SIGKILL sshd when this process dies, however it dies.
  const setpriv = findOnPath('setpriv')
  const child =
    setpriv === undefined
      ? spawn(sshdPath, sshdArgs, { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(setpriv, ['--pdeathsig', 'KILL', sshdPath, ...sshdArgs], {
          stdio: ['ignore', 'ignore', 'pipe']
        })
  let log = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    if (log.length < MAX_LOG_CHARS) log += chunk
  })
  const exited = new Promise<void>(resolve => {
    child.once('exit', () => resolve())
    child.once('error', error => {
      log += `${error.message}\n`
      resolve()
    })
  })
  // A forgotten sshd must not keep the test process alive; the pdeathsig then ends it.
  child.unref()
  if (child.stderr instanceof Socket) child.stderr.unref()
  return { child, pid: child.pid ?? -1, exited, stderr: () => log }
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null || child.pid === undefined
}

async function waitUntilReady(
  launched: Launched,
  pidPath: string,
  port: number,
  timeoutMs: number
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (hasExited(launched.child)) {
      await delay(POLL_MS) // let the last stderr chunk arrive
      const stderr = launched.stderr()
      const portTaken = /Bind to port|Cannot bind any address|Address already in use/i.test(stderr)
      throw new StartFailure(`sshd exited while starting on ${HOST}:${port}:\n${stderr}`, portTaken)
    }
    // The pid file is written after the listen socket is bound, and it is ours alone.
    if ((await readPidFile(pidPath)) === launched.pid && (await answersSsh(port))) return
    if (Date.now() > deadline) {
      signalAll(processTree(launched.pid), 'SIGKILL')
      throw new StartFailure(
        `sshd did not accept connections on ${HOST}:${port} within ${timeoutMs} ms:\n${launched.stderr()}`,
        false
      )
    }
    await Promise.race([delay(POLL_MS), launched.exited])
  }
}

interface SshdFields {
  readonly port: number
  readonly user: LoginUser
  readonly client: KeyPair
  readonly host: KeyPair
  readonly password: string | undefined
  readonly layout: Layout
  readonly launched: Launched
}

class RunningSshd implements Sshd {
  readonly host = HOST
  readonly port: number
  readonly username: string
  readonly home: string
  readonly privateKey: string
  readonly publicKey: string
  readonly privateKeyPath: string
  readonly password: string | undefined
  readonly hostPrivateKey: string
  readonly hostPublicKey: string
  readonly hostKeyFingerprint: string
  readonly knownHostsLine: string
  readonly knownHostsPath: string
  readonly dir: string
  readonly pid: number
  readonly #launched: Launched
  #stopping: Promise<void> | undefined

  constructor(fields: SshdFields) {
    this.port = fields.port
    this.username = fields.user.name
    this.home = fields.user.home
    this.privateKey = fields.client.privateKey
    this.publicKey = fields.client.publicKey
    this.privateKeyPath = join(fields.layout.dir, 'id_client')
    this.password = fields.password
    this.hostPrivateKey = fields.host.privateKey
    this.hostPublicKey = withoutComment(fields.host.publicKey)
    this.hostKeyFingerprint = fields.host.fingerprint
    this.knownHostsLine = `[${HOST}]:${fields.port} ${this.hostPublicKey}`
    this.knownHostsPath = join(fields.layout.dir, 'known_hosts')
    this.dir = fields.layout.dir
    this.pid = fields.launched.pid
    this.#launched = fields.launched
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
    running.delete(this)
  }

  /** For the exit hook, where nothing async runs. */
  killSync(): void {
    signalAll(processTree(this.pid), 'SIGKILL')
    rmSync(this.dir, { recursive: true, force: true })
  }
}

async function writeClientFiles(
  layout: Layout,
  client: KeyPair,
  options: SshdOptions
): Promise<void> {
  const authorized = [client.publicKey, ...(options.authorizedKeys ?? [])].map(key => key.trim())
  // sshd reads authorized_keys as the login user: world-readable, in a traversable dir.
  await writeFile(layout.authorizedKeysPath, authorized.join('\n') + '\n', { mode: 0o644 })
  await chmod(layout.authorizedKeysPath, 0o644)
  await writeFile(join(layout.dir, 'id_client'), client.privateKey, { mode: 0o600 })
}

async function startOnFreePort(
  sshdPath: string,
  layout: Layout,
  config: Omit<ConfigInput, 'port'>,
  timeoutMs: number
): Promise<{ port: number; launched: Launched }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    await rm(layout.pidPath, { force: true })
    await writeFile(layout.configPath, renderConfig({ ...config, port }))
    const launched = launch(sshdPath, layout.configPath)
    try {
      await waitUntilReady(launched, layout.pidPath, port, timeoutMs)
      return { port, launched }
    } catch (error) {
      if (!(error instanceof StartFailure && error.portTaken && attempt < PORT_ATTEMPTS))
        throw error
    }
  }
}

/** Starts a real sshd on 127.0.0.1 with a fresh host key and client key. */
export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const sshdPath = options.sshdPath ?? SSHD_PATH
  assertInstalled(sshdPath)
  const user = await ensureLoginUser()
  const password = options.passwordAuthentication === true ? await setPassword(user) : undefined
  await assertReachable(tmpdir(), user)
  // sshd running as root needs its privilege-separation directory.
  if (isRoot()) await mkdir('/run/sshd', { recursive: true, mode: 0o755 })
  const layout = layoutOf(await mkdtemp(join(tmpdir(), 'gdtest-sshd-')))
  try {
    await chmod(layout.dir, 0o711)
    const [host, client, version] = await Promise.all([
      prepareHostKey(layout.hostKeyPath, options),
      makeKeyPair(),
      sshdVersion(sshdPath)
    ])
    await writeClientFiles(layout, client, options)
    const config = {
      layout,
      user: user.name,
      passwordAuthentication: options.passwordAuthentication === true,
      extraConfig: options.extraConfig ?? [],
      hasPerSourcePenalties: version[0] > 9 || (version[0] === 9 && version[1] >= 8)
    }
    const { port, launched } = await startOnFreePort(
      sshdPath,
      layout,
      config,
      options.startTimeoutMs ?? 10_000
    )
    const sshd = new RunningSshd({ port, user, client, host, password, layout, launched })
    await writeFile(sshd.knownHostsPath, `${sshd.knownHostsLine}\n`)
    running.add(sshd)
    installExitHook()
    return sshd
  } catch (error) {
    await rm(layout.dir, { recursive: true, force: true })
    throw error
  }
}

/** Resolves once nothing accepts TCP connections on the port any more. */
export async function portIsClosed(port: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() <= deadline) {
    if (!(await accepts(port))) return true
    await delay(POLL_MS)
  }
  return false
}

function accepts(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = createConnection({ host: HOST, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
