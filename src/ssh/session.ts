/**
 * One verified SSH connection per host (through a jump host when asked), and the one thing the
 * stages need from it: run a command, optionally streaming stdin, and collect its output.
 */
import { NodeSSH } from 'node-ssh'
import { connect, type Socket } from 'node:net'
import { Transform, type Readable } from 'node:stream'
import type { ClientChannel, ConnectConfig } from 'ssh2'
import { DeployError, errorMessage } from '../errors.js'
import {
  pinnedKeyAlgorithms,
  verifyHostKey,
  type HostKeyPin,
  type HostKeyVerdict
} from './host-keys.js'
import { describeTarget, type Target } from './target.js'

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
  exec(command: string, options?: ExecOptions): Promise<ExecResult>
  close(): void
}

export interface ConnectSettings {
  readonly privateKey: string | undefined
  readonly passphrase: string | undefined
  readonly password: string | undefined
  readonly hostKeys: readonly HostKeyPin[]
  readonly insecureSkipHostKeyCheck: boolean
  readonly timeoutSeconds: number
}

/**
 * Stdin streams reach the channel in batches of about this size, each written with the socket
 * corked: one writev per batch instead of one write per 32 KB SSH packet, so sshd (the
 * bottleneck on a small server) wakes far less often per megabyte.
 */
const BATCH_BYTES = 1 << 20

/** Regroups a stream into ~`BATCH_BYTES` chunks and corks `socket` while each is written. */
function batched(socket: Socket | undefined): Transform {
  let held: Buffer[] = []
  let size = 0
  const release = (stream: Transform): void => {
    if (size === 0) return
    socket?.cork()
    stream.push(held.length === 1 ? held[0] : Buffer.concat(held, size))
    held = []
    size = 0
    if (socket) process.nextTick(() => socket.uncork())
  }
  return new Transform({
    readableHighWaterMark: 2 * BATCH_BYTES,
    writableHighWaterMark: BATCH_BYTES,
    transform(chunk: Buffer, _encoding, done) {
      held.push(chunk)
      size += chunk.length
      if (size >= BATCH_BYTES) release(this)
      done()
    },
    flush(done) {
      release(this)
      done()
    }
  })
}

class Session implements SshSession {
  constructor(
    readonly target: Target,
    private readonly ssh: NodeSSH,
    private readonly via: NodeSSH | undefined,
    /** The TCP socket under the connection (none through a jump host: that is a channel). */
    private readonly socket: Socket | undefined
  ) {
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
      client.exec(command, (error: Error | undefined, channel: ClientChannel) => {
        if (error) {
          settle()
          reject(
            new DeployError(
              `${describeTarget(this.target)}: could not run a command (${error.message}).`
            )
          )
          return
        }
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
          stdin.pipe(batched(this.socket)).pipe(channel)
        }
      })
    })
  }

  close(): void {
    this.ssh.dispose()
    this.via?.dispose()
  }
}

function authError(target: Target, settings: ConnectSettings, message: string): DeployError {
  const method = settings.privateKey ? 'the `private-key`' : 'the `password`'
  return new DeployError(
    `${target.username}@${describeTarget(target)} refused the login with ${method} (${message}). ` +
      `Check the user name and that the matching public key is in ~${target.username}/.ssh/authorized_keys on the server.`
  )
}

async function connectOne(
  target: Target,
  settings: ConnectSettings,
  sock: NonNullable<ConnectConfig['sock']>
): Promise<NodeSSH> {
  // Written by ssh2's hostVerifier callback, read when the handshake fails.
  const check: { verdict: HostKeyVerdict } = { verdict: { ok: true } }
  const algorithms = settings.insecureSkipHostKeyCheck
    ? undefined
    : pinnedKeyAlgorithms(settings.hostKeys, target)
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.username,
    readyTimeout: settings.timeoutSeconds * 1000,
    keepaliveInterval: 5000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer): boolean => {
      if (settings.insecureSkipHostKeyCheck) return true
      check.verdict = verifyHostKey(settings.hostKeys, target, key)
      return check.verdict.ok
    },
    ...(algorithms ? { algorithms: { serverHostKey: algorithms } } : {}),
    ...(settings.privateKey ? { privateKey: settings.privateKey } : {}),
    ...(settings.passphrase ? { passphrase: settings.passphrase } : {}),
    ...(settings.password ? { password: settings.password } : {}),
    sock,
    // Straight to the methods we have: ssh2 would first try "none", one more round trip.
    authHandler: [
      ...(settings.privateKey ? ['publickey' as const] : []),
      ...(settings.password ? ['password' as const] : [])
    ]
  }
  const ssh = new NodeSSH()
  try {
    // node-ssh's Config type predates exactOptionalPropertyTypes; ours sets no undefined fields.
    await ssh.connect(config as Parameters<NodeSSH['connect']>[0])
    return ssh
  } catch (error: unknown) {
    ssh.dispose()
    sock.destroy()
    if (!check.verdict.ok) throw new DeployError(check.verdict.message)
    const message = errorMessage(error)
    const level = (error as { level?: string }).level
    if (level === 'client-authentication' || /authentication methods failed/i.test(message)) {
      throw authError(target, settings, message)
    }
    if (/timed out/i.test(message)) {
      throw new DeployError(
        `${describeTarget(target)}: no SSH handshake within ${settings.timeoutSeconds} s (\`ssh-timeout\`). Is the host reachable from the runner?`
      )
    }
    throw new DeployError(`${describeTarget(target)}: cannot connect (${message}).`)
  }
}

/**
 * A TCP connection of our own, so its writes can be corked. TCP_NODELAY from the first byte:
 * otherwise Nagle and delayed ACKs add ~40 ms to each handshake and auth round trip (0.24 s
 * instead of 0.06 s to log in over loopback). ssh2 listens for its errors from the same tick.
 */
function tcp(target: Target): Socket {
  return connect({ host: target.host, port: target.port, noDelay: true })
}

/** Opens a verified session to `target`, through `jumpHost` when given. */
export async function openSession(
  target: Target,
  jumpHost: Target | undefined,
  settings: ConnectSettings
): Promise<SshSession> {
  if (!jumpHost) {
    const socket = tcp(target)
    return new Session(target, await connectOne(target, settings, socket), undefined, socket)
  }
  const jump = await connectOne(jumpHost, settings, tcp(jumpHost))
  try {
    const client = jump.connection
    if (!client) throw new DeployError(`${describeTarget(jumpHost)}: jump host not connected.`)
    const stream = await new Promise<ClientChannel>((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, target.host, target.port, (error, channel) => {
        if (error) {
          reject(
            new DeployError(
              `jump host ${describeTarget(jumpHost)} could not reach ${describeTarget(target)} (${error.message}).`
            )
          )
        } else resolve(channel)
      })
    })
    return new Session(target, await connectOne(target, settings, stream), jump, undefined)
  } catch (error: unknown) {
    jump.dispose()
    throw error
  }
}
