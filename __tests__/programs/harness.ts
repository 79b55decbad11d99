/**
 * Runs the deploy engine's remote programs as the SSH side runs them, without SSH: the exact text
 * the TypeScript modules build (lib.sh, then the operation's files, in the same order), through
 * `invocation()` with the program's text ahead of its stdin, given to a login shell as `<shell> -c '<invocation>'`. Both the login shell and
 * the `sh` it starts are the shell under test (a `sh` link to it comes first on PATH), HOME is a
 * temporary directory and the working directory another one. The login shell prints a greeting
 * full of markers before the program and a farewell after it, as a chatty ~/.bashrc would: every
 * result is read through `unframe`/`errorOf`, so the framing is checked by every test.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { errorOf, invocation, program, unframe, type Program } from '../../src/deploy/program.js'

export interface Shell {
  readonly name: string
  /** The shell binary and the arguments before `-c`. */
  readonly command: readonly [string, ...string[]]
  readonly install: string
}

export const SHELLS: readonly Shell[] = [
  { name: 'dash', command: ['/bin/dash'], install: 'apt-get install -y dash' },
  { name: 'busybox sh', command: ['/usr/bin/busybox', 'sh'], install: 'apt-get install -y busybox' }
]

const source = (file: string): string =>
  readFileSync(new URL(`../../src/deploy/${file}`, import.meta.url), 'utf8')
const LISTING = source('stage/listing.sh')

/** Each program exactly as its module builds it (same parts, same order). */
export const PROGRAMS = {
  /** lock.ts: with a release argument it stages that release in the same exec. */
  lock: program(
    'lock',
    LISTING,
    source('stage/stage.sh'),
    source('activate/activate.sh'),
    source('abandon/abandon.sh'),
    source('serve/serve.sh'),
    source('lock/lock.sh')
  ),
  repair: program('repair', LISTING, source('stage/repair.sh')),
  activate: program(
    'activate',
    source('activate/activate.sh'),
    source('activate/activate-program.sh')
  ),
  finish: program('finish', source('finish/finish.sh')),
  abandon: program('abandon', source('abandon/abandon.sh'), source('abandon/abandon-program.sh')),
  health: program('health', source('health/health.sh'))
} satisfies Record<string, Program>

/** What a greeting in ~/.bashrc and a logout message could print around the program. */
export const GREETING =
  'Welcome!\nGD-HELD 99999\n{"actor":"greeter"}\nGD-CURRENT 20000101000000-deadbee\nGD-END\n'
export const FAREWELL = 'GD-PRUNED 20000101000000-deadbee\nlogout\n'

export interface Run {
  readonly code: number
  readonly stdout: Buffer
  readonly stderr: string
  /** What `unframe` returns: the program's output between its frames. */
  readonly output: Buffer
  /** `output` as text, split into lines. */
  readonly lines: string[]
  /** What `errorOf` makes of stderr. */
  readonly error: string
}

/** A temporary world for one test: HOME, a working directory, the remote path, a PATH. */
export class Sandbox {
  readonly root: string
  readonly home: string
  readonly cwd: string
  /** An absolute remote path that does not exist yet. */
  readonly remote: string
  private readonly shim: string

  constructor(readonly shell: Shell) {
    if (!existsSync(shell.command[0])) {
      throw new Error(
        `${shell.command[0]} is missing: the programs must be tested under ${shell.name}. ${shell.install}`
      )
    }
    this.root = mkdtempSync(path.join(tmpdir(), 'gd-programs-'))
    this.home = path.join(this.root, 'home')
    this.cwd = path.join(this.root, 'cwd')
    this.remote = path.join(this.root, 'srv', 'app')
    this.shim = path.join(this.root, 'shim')
    for (const dir of [this.home, this.cwd, this.shim]) mkdirSync(dir, { recursive: true })
    // `sh` is the shell under test (busybox picks its applet by the name it was called by).
    symlinkSync(shell.command[0], path.join(this.shim, 'sh'))
  }

  /** The PATH the programs run with: the `sh` link first, then the system's tools. */
  path(system = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin'): string {
    return `${this.shim}:${system}`
  }

  /**
   * Runs `prog` with `args` as the SSH side would, `stdin` through a pipe (none: an empty one).
   * A program that stops reading early is fine, as with SSH: the rest of stdin is dropped.
   */
  async run(
    prog: Program,
    args: readonly string[],
    options: {
      stdin?: string | Buffer
      env?: Record<string, string>
      home?: string
      /** The program's text in the command, as on OpenSSH, instead of ahead of stdin. */
      inline?: boolean
    } = {}
  ): Promise<Run> {
    const command = options.inline ? invocation(args, prog.text) : invocation(args)
    const login = `printf '%s' '${GREETING}'; ${command}; status=$?; printf '%s' '${FAREWELL}'; exit $status`
    const child = spawn(this.shell.command[0], [...this.shell.command.slice(1), '-c', login], {
      cwd: this.cwd,
      env: { PATH: this.path(), HOME: options.home ?? this.home, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 20_000
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    child.stdin.on('error', () => undefined) // EPIPE: the program is done with its input
    // As runProgram sends it: the program's text, then its input.
    const text = options.inline ? '' : prog.text
    child.stdin.end(Buffer.concat([Buffer.from(text), Buffer.from(options.stdin ?? '')]))
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (status, signal) => resolve(status ?? (signal ? 128 : -1)))
    })
    const stdout = Buffer.concat(out)
    const stderr = Buffer.concat(err).toString('utf8')
    const output = unframe(stdout)
    if (output === undefined) {
      throw new Error(
        `the ${prog.name} program did not start under ${this.shell.name} (exit ${code}):\n${stderr}${stdout.toString('utf8')}`
      )
    }
    return {
      code,
      stdout,
      stderr,
      output,
      lines: output.toString('utf8').split('\n'),
      error: errorOf(stderr)
    }
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true })
  }
}

/** Creates `file` (and its parents) with `content`. */
export function put(file: string, content: string | Buffer = ''): void {
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, content)
}

export const sha256 = (data: Buffer | string): string =>
  createHash('sha256').update(data).digest('hex')

/**
 * Every entry under `dir` (recursively, without following links): type, mode, content hash or
 * link target. Two equal snapshots mean nothing was created, removed or changed.
 */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  if (!existsSync(dir)) return out
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name
      const full = path.join(dir, p)
      const stat = lstatSync(full)
      const mode = (stat.mode & 0o7777).toString(8)
      if (stat.isSymbolicLink()) out[p] = `l ${readlinkSync(full)}`
      else if (stat.isDirectory()) {
        out[p] = `d ${mode}`
        walk(p)
      } else out[p] = `f ${mode} ${sha256(readFileSync(full))}`
    }
  }
  walk('')
  return out
}

/** A release id for fixtures: `n` orders them by time. */
export const releaseName = (n: number): string =>
  `2024010112${String(n).padStart(4, '0')}-0123abc${n}`
export const commitOf = (n: number): string => `${String(n).repeat(40)}`.slice(0, 40)

/** A stored release: its directory with one file, and a manifest gated-deploy would write. */
export function storeRelease(remote: string, n: number): string {
  const id = releaseName(n)
  put(path.join(remote, 'releases', id, 'index.html'), `release ${n}\n`)
  put(
    path.join(remote, '.gated-deploy', 'releases', `${id}.json`),
    JSON.stringify({
      version: 1,
      release: id,
      sha: commitOf(n),
      created: '2024-01-01T12:00:00Z',
      by: 'tester',
      run: 'https://example.invalid/run/1',
      entries: [
        {
          type: 'file',
          path: 'index.html',
          mode: 0o644,
          size: 10,
          sha256: sha256(`release ${n}\n`)
        }
      ]
    })
  )
  return id
}

/** Points `current` at release `id`, as activate does. */
export function makeLive(remote: string, id: string): void {
  rmSync(path.join(remote, 'current'), { force: true })
  symlinkSync(`releases/${id}`, path.join(remote, 'current'))
}

/** The release `current` points at, or undefined. */
export function liveOf(remote: string): string | undefined {
  try {
    return readlinkSync(path.join(remote, 'current')).replace(/^releases\//, '')
  } catch {
    return undefined
  }
}

/** The history lines recorded so far. */
export function historyOf(remote: string): string[] {
  const file = path.join(remote, '.gated-deploy', 'history.jsonl')
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(line => line !== '')
    : []
}

/** Takes the lock as lock.sh would have. */
export function holdLock(remote: string): void {
  put(path.join(remote, '.gated-deploy', 'lock', 'owner.json'), '{"actor":"me"}\n')
}

export const locked = (remote: string): boolean =>
  existsSync(path.join(remote, '.gated-deploy', 'lock'))

/** The directories lock.sh creates. */
export function layout(remote: string): void {
  for (const dir of ['releases', 'shared', '.gated-deploy/releases']) {
    mkdirSync(path.join(remote, dir), { recursive: true })
  }
}

/** The releases on the server, oldest first. */
export const releasesOf = (remote: string): string[] =>
  readdirSync(path.join(remote, 'releases')).sort()

/** History lines with what a shell could misread in them. */
export const historyLine = (event: string): string =>
  JSON.stringify({ event, note: `it's "$(not run)" \`x\` $HOME \\ done` })
