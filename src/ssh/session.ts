/**
 * One verified SSH connection per host (through a jump host when asked), and the one thing the
 * stages need from it: run a command, optionally streaming stdin, and collect its output.
 */
import type { NodeSSH } from 'node-ssh'
import { connect, type Socket } from 'node:net'
import { Transform, type Readable } from 'node:stream'
import type { Client, ClientChannel } from 'ssh2'
import { DeployError, errorMessage } from '../errors.js'
import { connectOne, type ConnectSettings } from './connect.js'
import { describeTarget, type Target } from './target.js'

export type { ConnectSettings } from './connect.js'

export interface ExecResult {
  readonly code: number
  readonly stdout: Buffer
  readonly stderr: string
}

export interface ExecOptions {
  /** Sent to the command's stdin (a stream is piped with backpressure), then EOF. */
  readonly stdin?: Readable | Buffer | string
  /** Written to stdin at once, ahead of `stdin` (which a stream may batch and hold back). */
  readonly stdinPrefix?: Buffer
  /** Live stderr, e.g. hook output. */
  readonly onStderr?: (text: string) => void
  /** Live stdout, for a program that answers before it ends (all of it is in the result too). */
  readonly onStdout?: (chunk: Buffer) => void
}

/** What the stages use of an SSH connection. */
export interface SshSession {
  readonly target: Target
  /** The server's software as its SSH version line names it ("OpenSSH_9.2p1"), when known. */
  readonly software: string | undefined
  exec(command: string, options?: ExecOptions): Promise<ExecResult>
  close(): void
}

/**
 * Stdin streams reach the channel in chunks of about this size, each cut into packets in one
 * tick, so the corked socket (autoCorked) sends it as one writev instead of one write per 32 KB
 * SSH packet: sshd (the bottleneck on a small server) wakes far less often per megabyte.
 */
const BATCH_BYTES = 1 << 20

/**
 * What is held goes out after this long without a new chunk: the end of a tar whose stream stays
 * open for commands, and each command, are not held back waiting for a full batch.
 */
const IDLE_FLUSH_MS = 1

/** Regroups a stream into ~`BATCH_BYTES` chunks. */
function batched(): Transform {
  let held: Buffer[] = []
  let size = 0
  let idle: NodeJS.Timeout | undefined
  const release = (stream: Transform): void => {
    clearTimeout(idle)
    idle = undefined
    if (size === 0) return
    // One chunk per batch: the channel cuts it into packets in one call. Copying small chunks
    // together costs less than the stream passing each on (2,000 small files: 7% slower so).
    stream.push(held.length === 1 ? held[0] : Buffer.concat(held, size))
    held = []
    size = 0
  }
  return new Transform({
    readableHighWaterMark: 2 * BATCH_BYTES,
    writableHighWaterMark: BATCH_BYTES,
    transform(chunk: Buffer, _encoding, done) {
      held.push(chunk)
      size += chunk.length
      if (size >= BATCH_BYTES) release(this)
      else {
        clearTimeout(idle)
        idle = setTimeout(() => release(this), IDLE_FLUSH_MS)
      }
      done()
    },
    flush(done) {
      release(this)
      done()
    }
  })
}

/** Waits before each retry of a refused channel open: 20 + 40 + … + 320 = 620 ms in all. */
const OPEN_RETRY_MS = [20, 40, 80, 160, 320] as const

/** SSH_OPEN_CONNECT_FAILED (2): what OpenSSH answers an open past `MaxSessions`. */
function channelOpenRefused(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'reason' in error && error.reason === 2
}

/** The software field of the server's version line, which ssh2 keeps to itself. */
function softwareOf(client: unknown): string | undefined {
  if (typeof client !== 'object' || client === null || !('_remoteVer' in client)) return undefined
  return typeof client._remoteVer === 'string' ? client._remoteVer : undefined
}

class Session implements SshSession {
  readonly software: string | undefined

  constructor(
    readonly target: Target,
    private readonly ssh: NodeSSH,
    private readonly via: NodeSSH | undefined
  ) {
    this.software = softwareOf(ssh.connection)
    // ssh2 throws an 'error' nobody listens to; a lost connection is reported by the exec in flight.
    ssh.connection?.on('error', () => undefined)
    via?.connection?.on('error', () => undefined)
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const client = this.ssh.connection
    if (!client)
      return Promise.reject(new DeployError(`${describeTarget(this.target)}: not connected.`))
    return new Promise<ExecResult>((resolve, reject) => {
      const lost = (error?: Error): void =>
        reject(
          new DeployError(
            `${describeTarget(this.target)}: connection lost (${error?.message ?? 'closed by the server'}).`
          )
        )
      const closed = (): void => lost()
      client.once('error', lost)
      client.once('close', closed)
      const settle = (): void => {
        client.off('error', lost)
        client.off('close', closed)
      }
      // Handlers go on the channel in the open callback itself: ssh2 may parse the command's
      // output, exit status and close from the same packet batch, before any promise settles.
      this.open(
        client,
        command,
        channel => {
          const stdout: Buffer[] = []
          const stderr: string[] = []
          let code: number | undefined
          channel.on('data', (chunk: Buffer) => {
            stdout.push(chunk)
            options.onStdout?.(chunk)
          })
          channel.stderr.on('data', (chunk: Buffer) => {
            const text = chunk.toString('utf8')
            stderr.push(text)
            options.onStderr?.(text)
          })
          channel.on('exit', (exitCode: number | null) => (code = exitCode ?? undefined))
          channel.on('close', () => {
            settle()
            if (code === undefined) {
              reject(
                new DeployError(
                  `${describeTarget(this.target)}: the connection closed before the command finished.`
                )
              )
            } else {
              resolve({ code, stdout: Buffer.concat(stdout), stderr: stderr.join('') })
            }
          })
          if (options.stdinPrefix) channel.write(options.stdinPrefix)
          const stdin = options.stdin
          if (stdin === undefined) channel.end()
          else if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) channel.end(stdin)
          else {
            stdin.on('error', (streamError: Error) => {
              channel.destroy()
              reject(streamError)
            })
            stdin.pipe(batched()).pipe(channel)
          }
        },
        error => {
          settle()
          reject(error)
        }
      )
    })
  }

  /**
   * Opens the command's session channel. A server with `MaxSessions 1` frees the slot of the
   * previous channel a moment after its close, and refuses an open in between ("open
   * failed"): retried after each of OPEN_RETRY_MS, then the refusal is reported.
   */
  private open(
    client: Client,
    command: string,
    opened: (channel: ClientChannel) => void,
    failed: (error: DeployError) => void,
    attempt = 0
  ): void {
    const where = describeTarget(this.target)
    const refusedOrFailed = (error: Error): void => {
      const wait = OPEN_RETRY_MS[attempt]
      if (channelOpenRefused(error) && wait !== undefined) {
        setTimeout(() => this.open(client, command, opened, failed, attempt + 1), wait)
      } else if (channelOpenRefused(error)) {
        failed(
          new DeployError(
            `${where}: the server refused to open a session channel ${attempt + 1} times in a row (${error.message}), though the action uses one at a time. ` +
              `Its sshd limits sessions per connection (\`MaxSessions\` in /etc/ssh/sshd_config, or a \`Match\` block for ${this.target.username}): set it to 1 or more, ` +
              `and check that no other program holds sessions open on this login.`
          )
        )
      } else {
        failed(new DeployError(`${where}: could not run a command (${error.message}).`))
      }
    }
    try {
      client.exec(command, (error: Error | undefined, channel: ClientChannel) => {
        if (error) refusedOrFailed(error)
        else opened(channel)
      })
    } catch (error: unknown) {
      // ssh2 throws at once on a connection that is gone.
      failed(new DeployError(`${where}: could not run a command (${errorMessage(error)}).`))
    }
  }

  close(): void {
    this.ssh.dispose()
    this.via?.dispose()
  }
}

/**
 * A TCP connection of our own, so its writes can be corked. TCP_NODELAY from the first byte:
 * otherwise Nagle and delayed ACKs add ~40 ms to each handshake and auth round trip (0.24 s
 * instead of 0.06 s to log in over loopback). ssh2 listens for its errors from the same tick.
 */
function tcp(target: Target): Socket {
  return autoCorked(connect({ host: target.host, port: target.port, noDelay: true }))
}

/**
 * Gathers every write made in one tick into one writev: ssh2 writes each packet's length,
 * ciphertext and tag separately, three system calls per 32 KB packet wherever a write is not
 * already corked (the data a window adjustment lets out).
 */
function autoCorked(socket: Socket): Socket {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean
  let corked = false
  const uncork = (): void => {
    corked = false
    socket.uncork()
  }
  socket.write = (...args: unknown[]): boolean => {
    if (!corked) {
      corked = true
      socket.cork()
      process.nextTick(uncork)
    }
    return write(...args)
  }
  return socket
}

/** SSH_OPEN_ADMINISTRATIVELY_PROHIBITED: sshd's answer when it may not forward. */
const OPEN_PROHIBITED = 1

function forwardError(jumpHost: Target, target: Target, error: Error): DeployError {
  const jump = `${jumpHost.username}@${describeTarget(jumpHost)}`
  const to = describeTarget(target)
  const reason = 'reason' in error ? error.reason : undefined
  if (reason === OPEN_PROHIBITED) {
    return new DeployError(
      `The jump host ${jump} refused to forward to ${to} (AllowTcpForwarding): its sshd does not let ${jumpHost.username} open TCP forwards (${error.message}). ` +
        `On the jump host, set \`AllowTcpForwarding yes\` (or \`local\`) in /etc/ssh/sshd_config (a \`Match User ${jumpHost.username}\` block is enough) and reload sshd; ` +
        `check too that \`PermitOpen\` and the key's options in authorized_keys (no-port-forwarding, permitopen=) allow ${to}. ` +
        `Or leave \`jump-host\` empty if the runner reaches ${to} directly.`
    )
  }
  return new DeployError(
    `The jump host ${jump} could not connect to ${to} (${error.message}): check the host and port in \`hosts\` as the jump host sees them, and that sshd listens there.`
  )
}

/** Waits before each retry of a connection that failed on the way: 1 + 2 + 4 s. */
const CONNECT_RETRY_MS = [1000, 2000, 4000] as const

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH'
])
const TRANSIENT_TEXT =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|no SSH handshake within|Connection lost before handshake/i

/** Refused, reset or timed out: worth another try. Authentication and host-key errors never are. */
export function transient(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = 'code' in e ? e.code : undefined
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true
    if (TRANSIENT_TEXT.test(e.message)) return true
  }
  return false
}

/**
 * Opens a verified session to `target`, through `jumpHost` when given; a transient failure is
 * tried again after each of CONNECT_RETRY_MS (told to `onRetry`) before it counts.
 */
export async function openSession(
  target: Target,
  jumpHost: Target | undefined,
  settings: ConnectSettings,
  onRetry: (text: string) => void = () => undefined,
  first?: (session: SshSession) => void
): Promise<SshSession> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await openOnce(target, jumpHost, settings, first)
    } catch (error: unknown) {
      const wait = CONNECT_RETRY_MS[attempt]
      if (wait === undefined || !transient(error)) throw error
      onRetry(`${errorMessage(error)} Trying again in ${wait / 1000} s.`)
      await new Promise(resolve => setTimeout(resolve, wait))
    }
  }
}

async function openOnce(
  target: Target,
  jumpHost: Target | undefined,
  settings: ConnectSettings,
  first: ((session: SshSession) => void) | undefined
): Promise<SshSession> {
  if (!jumpHost) {
    // `first` may start the first command as soon as the login request is sent (OpenSSH, a key
    // alone): its channel opens a round trip sooner. Else it is called once logged in.
    let early: Session | undefined
    const { ssh } = await connectOne(
      target,
      settings,
      () => Promise.resolve(tcp(target)),
      first &&
        (connection => {
          early = new Session(target, connection, undefined)
          first(early)
        })
    )
    if (early) return early
    const session = new Session(target, ssh, undefined)
    first?.(session)
    return session
  }
  const jump = (await connectOne(jumpHost, settings, () => Promise.resolve(tcp(jumpHost)))).ssh
  try {
    const client = jump.connection
    if (!client) throw new DeployError(`${describeTarget(jumpHost)}: jump host not connected.`)
    const forward = (): Promise<ClientChannel> =>
      new Promise<ClientChannel>((resolve, reject) => {
        client.forwardOut('127.0.0.1', 0, target.host, target.port, (error, channel) => {
          if (error) reject(forwardError(jumpHost, target, error))
          else resolve(channel)
        })
      })
    const { ssh } = await connectOne(target, settings, forward)
    const session = new Session(target, ssh, jump)
    first?.(session)
    return session
  } catch (error: unknown) {
    jump.dispose()
    throw error
  }
}
