/**
 * How a remote program runs: its text (src/deploy/lib.sh followed by the operation's own `.sh`
 * files, bundled into dist/ as files) travels first on the exec's stdin, read by a one-line
 * bootstrap (`sh -c '<read it, then eval it>' gated-deploy ARGS...`), so every value it works on
 * arrives as a quoted positional parameter and the command line stays short (Dropbear refuses
 * commands over 9,000 bytes). What the program reads from stdin follows its text. Its output is
 * framed by markers, so whatever the login shell prints around it (a greeting in ~/.bashrc) is
 * ignored, and a failed step names itself in a GD-ERROR line on stderr.
 */
import { readFileSync } from 'node:fs'
import { DeployError } from '../errors.js'
import type { ExecOptions, SshSession } from '../ssh/session.js'
import { quote } from '../ssh/quote.js'
import { describeTarget } from '../ssh/target.js'

const LIB = readFileSync(new URL('./lib.sh', import.meta.url), 'utf8')

const MARKER_NAMES = [
  'GD_BEGIN',
  'GD_END',
  'GD_ERROR',
  'GD_LOCKED',
  'GD_HELD',
  'GD_CURRENT',
  'GD_PREVIOUS',
  'GD_RELEASE',
  'GD_BASE',
  'GD_MANIFEST',
  'GD_HASHES',
  'GD_REPLACED',
  'GD_PRUNED',
  'GD_FREE',
  'GD_ABSENT',
  'GD_READY',
  'GD_UNLOCKED',
  'GD_HEALTH',
  'GD_SERVES',
  'GD_STAGED',
  'GD_DONE'
] as const
const EXIT_NAMES = [
  'EXIT_FAILED',
  'EXIT_NOT_STAGED',
  'EXIT_BEFORE_ACTIVATE',
  'EXIT_AFTER_ACTIVATE'
] as const

/** Reads `NAME=value` assignments of lib.sh: the one definition of the markers and exit codes. */
function assignments<N extends string>(names: readonly N[]): Record<N, string> {
  const found = new Map(
    [...LIB.matchAll(/^([A-Z_]+)=(\S+)$/gm)].map(m => [m[1] ?? '', m[2] ?? ''] as const)
  )
  return Object.fromEntries(
    names.map(name => {
      const value = found.get(name)
      if (value === undefined) throw new Error(`internal: lib.sh does not define ${name}`)
      return [name, value]
    })
  ) as Record<N, string>
}

/** The output markers, as lib.sh defines them. */
export const MARK = assignments(MARKER_NAMES)
/** The exit codes the programs use, as lib.sh defines them. */
export const EXIT = Object.fromEntries(
  Object.entries(assignments(EXIT_NAMES)).map(([name, value]) => [name, Number(value)])
) as Record<(typeof EXIT_NAMES)[number], number>

/** A remote program: lib.sh, then the given files' text, in order. */
export interface Program {
  readonly name: string
  /** The files as written (what shellcheck reads). */
  readonly source: string
  /** As sent: compacted, ending with the END line. */
  readonly text: string
}

/** The line that ends a program's text on stdin (a comment, were it ever run). */
const END = '#gd-end'

/**
 * The program's text as it is sent: without comment lines, indentation and blank lines (a
 * third of the bytes the bootstrap reads one at a time), ending with the END line.
 */
function compact(text: string): string {
  const lines = text
    .split('\n')
    .map(line => line.trimStart())
    .filter(line => line !== '' && !line.startsWith('#'))
  return `${lines.join('\n')}\n${END}\n`
}

export function program(name: string, ...parts: readonly string[]): Program {
  const source = [LIB, ...parts].join('\n')
  return { name, source, text: compact(source) }
}

/**
 * Reads the program's text from stdin up to the END line (the shell's `read` takes one byte at
 * a time from a pipe, so not a byte of what follows), refuses a text cut short, and runs it.
 */
const BOOTSTRAP = `p=;while IFS= read -r l;do [ "$l" = '${END}' ]&&break;p="$p$l
";done;[ "$l" = '${END}' ]||exit 97;eval "$p"`

/**
 * The command that runs a program with `args` under `sh`, whatever the login shell. Without
 * `text`, the program's text must come first on the exec's stdin (`runProgram` sends it);
 * with it, the text is the command's own (a round trip sooner: it need not wait for the exec's
 * reply to be sent).
 */
export function invocation(args: readonly string[], text?: string): string {
  return ['sh', '-c', quote(text ?? BOOTSTRAP), 'gated-deploy', ...args.map(quote)].join(' ')
}

/**
 * Whether the server takes a program's text in the command: OpenSSH does (commands up to its
 * 256 KB packet); Dropbear refuses commands over 9,000 bytes, and others are not known.
 */
function takesLongCommands(software: string | undefined): boolean {
  return software !== undefined && /^OpenSSH_/.test(software)
}

export interface ProgramResult {
  readonly code: number
  /** What the program printed between its frames (everything after the start when it failed). */
  readonly output: Buffer
  /** The program's GD-ERROR message, or the end of its stderr when it has none. */
  readonly error: string
}

function indexOf(haystack: Buffer, needle: string, from = 0): number {
  return haystack.indexOf(Buffer.from(needle), from)
}

/** The bytes between the first start frame and the last end frame. */
export function unframe(stdout: Buffer): Buffer | undefined {
  const begin = `\n${MARK.GD_BEGIN}\n`
  const start = indexOf(stdout, begin)
  if (start < 0) return undefined
  const from = start + begin.length
  const end = stdout.lastIndexOf(Buffer.from(`\n${MARK.GD_END}\n`))
  return stdout.subarray(from, end >= from ? end : stdout.length)
}

/**
 * The GD-ERROR message of stderr with the last lines the failing tool printed before it (tar's
 * "No space left on device"), or stderr's last lines when the program named nothing.
 */
export function errorOf(stderr: string): string {
  const prefix = `${MARK.GD_ERROR} `
  const lines = stderr.split('\n').map(line => line.trimEnd())
  const first = lines.findIndex(line => line.startsWith(prefix))
  const said = (first < 0 ? lines : lines.slice(0, first)).filter(line => line !== '').slice(-3)
  if (first < 0) return said.join('\n') || 'no error output'
  const named = lines.filter(line => line.startsWith(prefix)).map(line => line.slice(prefix.length))
  return `${named.join('; ')}${said.length > 0 ? ` (${said.join(' / ')})` : ''}`
}

/** Runs `program` on `session`; a result whatever its exit code (the caller names failures). */
export async function runProgram(
  session: SshSession,
  program: Program,
  args: readonly string[],
  options: ExecOptions = {}
): Promise<ProgramResult> {
  // The text is the command on OpenSSH; elsewhere it goes ahead of the input at once (a
  // streamed input is sent in batches).
  const result = takesLongCommands(session.software)
    ? await session.exec(invocation(args, program.text), options)
    : await session.exec(invocation(args), {
        ...options,
        stdinPrefix: Buffer.from(program.text, 'utf8')
      })
  const output = unframe(result.stdout)
  if (output === undefined) {
    const said = result.stderr.trim() || result.stdout.toString('utf8').trim()
    if (/allows sftp connections only/i.test(`${said}`)) {
      throw new DeployError(
        `${describeTarget(session.target)}: the account allows SFTP only (ForceCommand internal-sftp), so it runs no commands; gated-deploy needs a shell account (a POSIX \`sh\`) to lock, verify and switch releases. Give the deploy user a shell, or a Match block without ForceCommand.`
      )
    }
    throw new DeployError(
      `${describeTarget(session.target)}: the ${program.name} program did not start (exit ${result.code})` +
        `${said ? `: ${said.split('\n').slice(-5).join('\n')}` : ''}. The account needs a POSIX \`sh\`.`
    )
  }
  return { code: result.code, output, error: errorOf(result.stderr) }
}

/** The error for a program that exited non-zero while doing `what`. */
export function stepFailed(session: SshSession, what: string, result: ProgramResult): DeployError {
  return new DeployError(
    `${describeTarget(session.target)}: ${what} failed (exit ${result.code}): ${result.error}`
  )
}

/** Runs `program` and fails naming `what` unless it exits 0. */
export async function runChecked(
  session: SshSession,
  program: Program,
  what: string,
  args: readonly string[],
  options: ExecOptions = {}
): Promise<Buffer> {
  const result = await runProgram(session, program, args, options)
  if (result.code !== 0) throw stepFailed(session, what, result)
  return result.output
}

/**
 * `remote-path` as the programs take it: `.` segments and repeated or trailing slashes gone, a
 * leading `~/` meaning the home directory, and a relative path prefixed with `./`, so that no
 * command can read it as an option (`-P`) and `cd` never searches CDPATH.
 */
export function remotePathArgument(remotePath: string): string {
  const absolute = remotePath.startsWith('/')
  const relative = remotePath.startsWith('~/') ? remotePath.slice(2) : remotePath
  const segments = relative.split('/').filter(s => s !== '' && s !== '.')
  if (absolute) return '/' + segments.join('/')
  return './' + segments.join('/')
}
