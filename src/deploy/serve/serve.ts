/**
 * The commands a lock exec serves after staging (serve.sh), on servers whose tar stops reading at
 * the archive's end: storing, switching, pruning, unlocking and cleaning up travel as lines on
 * the same exec's stdin, so a deploy to one host is one exec, and a fleet switches without
 * opening a channel per host (`MaxSessions 1` suffices).
 */
import { readFileSync } from 'node:fs'
import type { PassThrough } from 'node:stream'
import { DeployError } from '../../errors.js'
import type { SshSession } from '../../ssh/session.js'
import { describeTarget } from '../../ssh/target.js'
import { activationOutcome } from '../activate/activate.js'
import { prunedIn } from '../finish/finish.js'
import type { LiveOutput } from '../live-output.js'
import { MARK, type ProgramResult } from '../program.js'

/** Defines `serve_commands`, which lock.sh runs after staging. */
export const SERVE = readFileSync(new URL('./serve.sh', import.meta.url), 'utf8')

interface Reply {
  /** What the program printed for the command (up to its GD-DONE line, or its end). */
  readonly text: Buffer
  /** Set when the program ended. */
  readonly ended: ProgramResult | undefined
}

/** History lines travel one a line. */
function line(text: string): string {
  if (text.includes('\n')) throw new Error('internal: a history line with a newline')
  return `${text}\n`
}

export class Commands {
  private over = false
  /** Commands sent whose GD-DONE was not read yet (a store is not waited for). */
  private unanswered = 0

  constructor(
    private readonly session: SshSession,
    private readonly input: PassThrough,
    private readonly live: LiveOutput,
    private readonly result: Promise<ProgramResult>,
    /** Where the replies start in the program's output. */
    private cursor: number
  ) {}

  /** The program is still there to take commands. */
  get open(): boolean {
    return !this.over
  }

  /** Sends the staged release's manifest and history line to store it (not waited for). */
  store(store: { readonly manifestJson: string; readonly history: string }): void {
    const manifest = Buffer.from(store.manifestJson, 'utf8')
    this.send(`store ${manifest.length}\n${line(store.history)}`, manifest)
  }

  /**
   * Switches `current` to `release` (with the hooks when `hooks`); with `keep`, then prunes,
   * unlocks and ends.
   */
  async activate(options: {
    release: string
    hooks: boolean
    history: { readonly switched: string; readonly back: string }
    keep?: number
    /** Hook output, live. */
    log: (text: string) => void
  }): Promise<{ replaced: string | undefined; pruned: string[] }> {
    const { release, keep } = options
    this.live.onStderr = options.log
    this.send(
      `activate ${release} ${options.hooks ? 'hooks' : 'nohooks'} ${keep ?? '-'}\n` +
        line(options.history.switched) +
        line(options.history.back)
    )
    const reply = await this.reply()
    this.live.onStderr = undefined
    const ended = reply.ended
    if (ended && ended.code === 0 && keep === undefined) {
      throw new DeployError(
        `${describeTarget(this.session.target)}: switching to ${release}: the lock exec ended instead of waiting for the next command.`
      )
    }
    return activationOutcome(
      this.session,
      release,
      ended?.code ?? 0,
      reply.text,
      ended?.error ?? ''
    )
  }

  /** Prunes to `keep` releases (none when undefined), unlocks and ends; the pruned ids. */
  async finish(keep: number | undefined): Promise<string[]> {
    this.send(`finish ${keep ?? '-'}\n`)
    return prunedIn(this.ended(await this.reply(), 'unlocking').toString('utf8'))
  }

  /** Cleans up after a failure (abandon.sh) and ends. */
  async abandon(release: string, remove: boolean, history: string): Promise<void> {
    this.send(`abandon ${remove ? 'remove' : 'keep'}\n${line(history)}`)
    this.ended(await this.reply(), `cleaning up ${release} after the failure`)
  }

  /** Ends the program with the lock still held: execs of their own take over. */
  async detach(): Promise<void> {
    this.send('detach\n')
    this.ended(await this.reply(), 'handing over to separate commands')
  }

  /**
   * Ends stdin: the program removes the partial release (if still there), unlocks and ends.
   * True when it did.
   */
  async close(): Promise<boolean> {
    if (this.over) return false
    this.input.end()
    try {
      const reply = await this.reply()
      return reply.ended?.code === 0 && reply.text.includes(`\n${MARK.GD_UNLOCKED}\n`)
    } catch {
      return false
    }
  }

  private send(text: string, payload?: Buffer): void {
    if (this.over)
      throw new DeployError(
        `${describeTarget(this.session.target)}: internal: the lock exec has ended.`
      )
    this.unanswered++
    this.input.write(text)
    if (payload) this.input.write(payload)
  }

  /** The output of an ending command, or an error naming `what` failed. */
  private ended(reply: Reply, what: string): Buffer {
    const result = reply.ended
    if (result && result.code === 0) return reply.text
    const why = result
      ? `exit ${result.code}: ${result.error}`
      : 'the program went on instead of ending'
    throw new DeployError(`${describeTarget(this.session.target)}: ${what} failed (${why})`)
  }

  /** Waits for the last command's GD-DONE line, or for the program's end. */
  private async reply(): Promise<Reply> {
    let text = Buffer.alloc(0)
    while (this.unanswered > 0) {
      const found = await this.live.next(MARK.GD_DONE, this.cursor)
      if (!found) break
      text = Buffer.concat([text, this.live.slice(this.cursor, found.start)])
      this.cursor = found.end
      this.unanswered--
    }
    if (this.unanswered === 0) return { text, ended: undefined }
    this.over = true
    this.unanswered = 0
    this.input.end()
    const result = await this.result
    const rest = this.live.slice(this.cursor)
    const end = rest.indexOf(`\n${MARK.GD_END}\n`)
    return {
      text: Buffer.concat([text, end >= 0 ? rest.subarray(0, end + 1) : rest]),
      ended: result
    }
  }
}
