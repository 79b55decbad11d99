/**
 * A TCP proxy on 127.0.0.1 in front of a test server that refuses the first N connections
 * and forwards the rest, for retry tests. It returns the server's handle with the proxy's
 * port (and known_hosts line for that port), so `sshInputs(proxy, …)` points at it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rmSync } from 'node:fs'
import { HOST } from './proc.js'
import { register, unregister, type HostKey, type Sshd, type Stoppable } from './server.js'

export interface RefusingProxyOptions {
  /** How many connections to refuse before forwarding (default 2). */
  readonly refuseFirst?: number
  /**
   * How to refuse: 'reset' accepts and sends a TCP RST at once (the client sees
   * ECONNRESET before any banner); 'close' accepts and closes (FIN: the client sees the
   * connection end before any banner). Default 'reset'.
   */
  readonly how?: 'reset' | 'close'
  /** stop() also stops the server behind the proxy (default false). */
  readonly stopsTarget?: boolean
}

export interface RefusingProxy extends Sshd {
  /** The server the proxy forwards to. */
  readonly target: Sshd
  /** Connections seen so far, refused ones included. */
  attempts(): number
  /** Connections refused so far. */
  refused(): number
}

class Proxy implements RefusingProxy, Stoppable {
  readonly host = HOST
  readonly port: number
  readonly knownHostsLine: string
  readonly knownHostsPath: string
  readonly dir: string
  readonly #server: Server
  readonly #sockets: Set<Socket>
  readonly #counts: { attempts: number; refused: number }
  readonly #stopsTarget: boolean
  #stopping: Promise<void> | undefined

  constructor(
    readonly target: Sshd,
    fields: {
      port: number
      dir: string
      server: Server
      sockets: Set<Socket>
      counts: { attempts: number; refused: number }
      stopsTarget: boolean
    }
  ) {
    this.port = fields.port
    this.dir = fields.dir
    this.knownHostsLine = `[${HOST}]:${fields.port} ${target.hostPublicKey}`
    this.knownHostsPath = join(fields.dir, 'known_hosts')
    this.#server = fields.server
    this.#sockets = fields.sockets
    this.#counts = fields.counts
    this.#stopsTarget = fields.stopsTarget
  }

  get username(): string {
    return this.target.username
  }
  get home(): string {
    return this.target.home
  }
  get shell(): string {
    return this.target.shell
  }
  get software(): Sshd['software'] {
    return this.target.software
  }
  get privateKey(): string {
    return this.target.privateKey
  }
  get publicKey(): string {
    return this.target.publicKey
  }
  get privateKeyPath(): string {
    return this.target.privateKeyPath
  }
  get password(): string | undefined {
    return this.target.password
  }
  get hostPrivateKey(): string {
    return this.target.hostPrivateKey
  }
  get hostPublicKey(): string {
    return this.target.hostPublicKey
  }
  get hostKeyFingerprint(): string {
    return this.target.hostKeyFingerprint
  }
  get hostKeys(): readonly HostKey[] {
    return this.target.hostKeys.map(key => ({
      ...key,
      knownHostsLine: `[${HOST}]:${this.port} ${key.publicKey}`
    }))
  }
  get pid(): number {
    return this.target.pid
  }

  attempts(): number {
    return this.#counts.attempts
  }

  refused(): number {
    return this.#counts.refused
  }

  logs(): string {
    return this.target.logs()
  }

  /** Kills the server behind the proxy and drops every proxied connection. */
  async kill(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await this.target.kill()
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #stop(): Promise<void> {
    const closed = new Promise<void>(resolve => this.#server.close(() => resolve()))
    for (const socket of this.#sockets) socket.destroy()
    await closed
    if (this.#stopsTarget) await this.target.stop()
    await rm(this.dir, { recursive: true, force: true })
    unregister(this)
  }

  killSync(): void {
    this.#server.close()
    for (const socket of this.#sockets) socket.destroy()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

function forward(client: Socket, targetPort: number, sockets: Set<Socket>): void {
  const upstream = createConnection({ host: HOST, port: targetPort })
  for (const socket of [client, upstream]) {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  client.on('error', () => upstream.destroy())
  upstream.on('error', () => client.destroy())
  client.pipe(upstream)
  upstream.pipe(client)
}

/** A proxy on a free 127.0.0.1 port that refuses the first `refuseFirst` connections. */
export async function startRefusingProxy(
  target: Sshd,
  options: RefusingProxyOptions = {}
): Promise<RefusingProxy> {
  const refuseFirst = options.refuseFirst ?? 2
  const how = options.how ?? 'reset'
  const counts = { attempts: 0, refused: 0 }
  const sockets = new Set<Socket>()
  const server = createServer(socket => {
    counts.attempts++
    if (counts.refused < refuseFirst) {
      counts.refused++
      socket.on('error', () => undefined)
      // destroy() closes the descriptor: FIN, never a half-open socket keeping close() waiting.
      if (how === 'reset') socket.resetAndDestroy()
      else socket.destroy()
      return
    }
    forward(socket, target.port, sockets)
  })
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, HOST, () => {
      const address = server.address()
      if (address !== null && typeof address === 'object') resolve(address.port)
      else reject(new Error('The refusing proxy got no port'))
    })
  })
  server.unref()
  const dir = await mkdtemp(join(tmpdir(), 'gdtest-proxy-'))
  const proxy = new Proxy(target, {
    port,
    dir,
    server,
    sockets,
    counts,
    stopsTarget: options.stopsTarget === true
  })
  await writeFile(proxy.knownHostsPath, `${proxy.knownHostsLine}\n`)
  register(proxy)
  return proxy
}
