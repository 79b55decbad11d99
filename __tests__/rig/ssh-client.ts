/** Small ssh2 client helpers for tests that check a test server directly. */
import { Client, type ConnectConfig } from 'ssh2'
import type { Sshd } from './server.js'

export interface ExecResult {
  readonly stdout: string
  readonly stderr: string
  readonly code: number | null
  readonly signal: string | undefined
}

/**
 * Connects as the server's user (with its key unless `config` says otherwise), checking
 * the host key against `server.hostPublicKey`. `{ key: false }` offers no key (for
 * password and keyboard-interactive tests).
 */
export function connectTo(
  server: Sshd,
  config: ConnectConfig = {},
  { key = true }: { readonly key?: boolean } = {}
): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client()
    // Stays attached: an error after 'ready' (a dying server) must not be unhandled.
    client.on('error', reject)
    // A server that closes before the handshake ends gives ssh2 'close' without 'error'.
    client.once('close', () => reject(new Error('The connection closed before SSH was ready')))
    client.once('ready', () => resolve(client))
    client.connect({
      host: server.host,
      port: server.port,
      username: server.username,
      ...(key ? { privateKey: server.privateKey } : {}),
      readyTimeout: 10_000,
      hostVerifier: (key: Buffer): boolean =>
        `${server.hostPublicKey.split(' ')[0] ?? ''} ${key.toString('base64')}` ===
        server.hostPublicKey,
      ...config
    })
  })
}

/** Runs `command` on an open connection; `stdin` is written then closed. */
export function exec(client: Client, command: string, stdin = ''): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error !== undefined) {
        reject(error)
        return
      }
      let stdout = ''
      let stderr = ''
      let code: number | null = null
      let signal: string | undefined
      stream.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
      stream.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
      stream.on('exit', (exitCode: number | null, exitSignal?: string) => {
        code = exitCode
        signal = exitSignal
      })
      stream.on('close', () => resolve({ stdout, stderr, code, signal }))
      stream.end(stdin)
    })
  })
}

/** Connects, runs one command, disconnects. */
export async function run(server: Sshd, command: string, stdin = ''): Promise<ExecResult> {
  const client = await connectTo(server)
  try {
    return await exec(client, command, stdin)
  } finally {
    client.end()
  }
}

/** Single-quotes a value for sh. */
export function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}
