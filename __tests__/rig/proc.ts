/**
 * Test rig plumbing shared by the servers (sshd, Dropbear, proxies): running programs,
 * free ports, launching a server that dies with this process, and ending process trees.
 */
import { execFile, spawn, type ChildProcess, type ExecFileException } from 'node:child_process'
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { Socket, createConnection, createServer } from 'node:net'
import { delimiter, join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'

export const HOST = '127.0.0.1'
export const POLL_MS = 20
const MAX_LOG_CHARS = 1_000_000

/** The Debian package that provides each program the rig runs. */
const PACKAGES: Readonly<Record<string, string>> = {
  sshd: 'openssh-server',
  'ssh-keygen': 'openssh-client',
  dropbear: 'dropbear-bin',
  dropbearkey: 'dropbear-bin',
  dropbearconvert: 'dropbear-bin',
  busybox: 'busybox',
  bsdtar: 'libarchive-tools',
  prlimit: 'util-linux',
  setpriv: 'util-linux',
  mount: 'mount',
  umount: 'mount'
}

/** "Install it with: apt-get install -y PACKAGE" for a program the rig needs. */
export function installHint(file: string): string {
  const name = file.slice(file.lastIndexOf('/') + 1)
  return `Install it with: apt-get install -y ${PACKAGES[name] ?? name}`
}

// ---------------------------------------------------------------------------------------
// Running commands

export interface Output {
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
    return new Error(`${file} not found: the SSH tests need it. ${installHint(file)}`)
  }
  const detail = stderr.trim() === '' ? error.message : stderr.trim()
  return new Error(`${file} ${args.join(' ')} failed (exit ${String(error.code)}): ${detail}`)
}

/** Runs a program without a shell; `input` goes to its stdin (so secrets stay off argv). */
export function run(file: string, args: readonly string[], input = ''): Promise<Output> {
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

export function findOnPath(name: string): string | undefined {
  const dirs = (process.env['PATH'] ?? '/usr/bin:/bin').split(delimiter).filter(dir => dir !== '')
  return dirs.map(dir => join(dir, name)).find(isExecutable)
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

export async function converge(
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

// Structural checks: under Jest, errors from Node's fs are not `instanceof Error` (another realm).
export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === code
}

export function messageOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error)
    return String(error.message)
  return String(error)
}

// ---------------------------------------------------------------------------------------
// Processes (Linux /proc): sshd forks a session process per connection that calls
// setsid(), so neither killing sshd nor its process group ends live sessions.

export interface ProcessRef {
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
export function processTree(root: number): ProcessRef[] {
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

export function signalAll(refs: readonly ProcessRef[], signal: NodeJS.Signals): void {
  for (const ref of refs.filter(isAlive)) {
    try {
      process.kill(ref.pid, signal)
    } catch (error) {
      if (!isErrno(error, 'ESRCH')) throw error
    }
  }
}

export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
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
export function isSettled(ref: ProcessRef): boolean {
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
export async function terminate(tree: readonly ProcessRef[]): Promise<void> {
  if (!(await endTree(tree, 'SIGTERM'))) await endTree(tree, 'SIGKILL')
}

/** A port that was free a moment ago; sshd may still lose a race for it (then we retry). */
export function freePort(): Promise<number> {
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
export function answersSsh(port: number): Promise<boolean> {
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

export class StartFailure extends Error {
  constructor(
    message: string,
    readonly portTaken: boolean
  ) {
    super(message)
    this.name = 'StartFailure'
  }
}

export interface Launched {
  readonly child: ChildProcess
  readonly pid: number
  readonly exited: Promise<void>
  readonly stderr: () => string
}

export interface LaunchOptions {
  /** RLIMIT_FSIZE in bytes for the server and every session it forks (`ulimit -f`). */
  readonly fileSizeLimit?: number | undefined
}

/**
 * Starts a server in the foreground with its stderr captured. The kernel SIGKILLs it when
 * this process dies, however it dies (setpriv --pdeathsig); prlimit sets resource limits
 * that its sessions inherit. Both exec, so the pid is the server's own.
 */
export function launch(
  file: string,
  args: readonly string[],
  options: LaunchOptions = {}
): Launched {
  const prefix: string[] = []
  const setpriv = findOnPath('setpriv')
  if (setpriv !== undefined) prefix.push(setpriv, '--pdeathsig', 'KILL')
  if (options.fileSizeLimit !== undefined) {
    const prlimit = findOnPath('prlimit')
    if (prlimit === undefined)
      throw new Error(`prlimit not found on PATH. ${installHint('prlimit')}`)
    prefix.push(prlimit, `--fsize=${options.fileSizeLimit}`)
  }
  const [command = file, ...rest] = [...prefix, file, ...args]
  const child = spawn(command, rest, { stdio: ['ignore', 'ignore', 'pipe'] })
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
  // A forgotten server must not keep the test process alive; the pdeathsig then ends it.
  child.unref()
  if (child.stderr instanceof Socket) child.stderr.unref()
  return { child, pid: child.pid ?? -1, exited, stderr: () => log }
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null || child.pid === undefined
}

export async function waitUntilReady(
  launched: Launched,
  pidPath: string,
  port: number,
  timeoutMs: number,
  name = 'sshd'
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (hasExited(launched.child)) {
      await delay(POLL_MS) // let the last stderr chunk arrive
      const stderr = launched.stderr()
      const portTaken = /Bind to port|Cannot bind any address|Address already in use/i.test(stderr)
      throw new StartFailure(
        `${name} exited while starting on ${HOST}:${port}:\n${stderr}`,
        portTaken
      )
    }
    // The pid file is written after the listen socket is bound, and it is ours alone.
    if ((await readPidFile(pidPath)) === launched.pid && (await answersSsh(port))) return
    if (Date.now() > deadline) {
      signalAll(processTree(launched.pid), 'SIGKILL')
      throw new StartFailure(
        `${name} did not accept connections on ${HOST}:${port} within ${timeoutMs} ms:\n${launched.stderr()}`,
        false
      )
    }
    await Promise.race([delay(POLL_MS), launched.exited])
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

const PORT_ATTEMPTS = 5

/**
 * Picks a free port, starts the server on it with `start` and waits until it answers SSH
 * on it and has written `pidPath`; retries with another port when it lost a race for one.
 */
export async function startOnFreePort(
  name: string,
  pidPath: string,
  timeoutMs: number,
  start: (port: number) => Promise<Launched>
): Promise<{ port: number; launched: Launched }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    await rm(pidPath, { force: true })
    const launched = await start(port)
    try {
      await waitUntilReady(launched, pidPath, port, timeoutMs, name)
      return { port, launched }
    } catch (error) {
      if (!(error instanceof StartFailure && error.portTaken && attempt < PORT_ATTEMPTS))
        throw error
    }
  }
}
