/**
 * A TCP proxy on 127.0.0.1 that holds every chunk for `oneWayMs` in each direction, in order:
 * a round trip of 2 × oneWayMs between a client and a loopback server, as a real network has
 * (kernel netem is not available on these machines). Bandwidth is not limited.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'

export interface LatencyProxy {
  readonly port: number
  close(): Promise<void>
}

/** Forwards `from` to `to`, each chunk delivered `delayMs` after it arrived, in order. */
function delayed(from: Socket, to: Socket, delayMs: number): void {
  const queue: { at: number; chunk: Buffer | null }[] = []
  let timer: NodeJS.Timeout | undefined
  const drain = (): void => {
    timer = undefined
    const now = Date.now()
    while (queue.length > 0 && (queue[0]?.at ?? Infinity) <= now) {
      const item = queue.shift()
      if (!item) break
      if (item.chunk === null) to.end()
      else to.write(item.chunk)
    }
    const next = queue[0]
    if (next) timer = setTimeout(drain, Math.max(0, next.at - Date.now()))
  }
  const push = (chunk: Buffer | null): void => {
    queue.push({ at: Date.now() + delayMs, chunk })
    if (!timer) timer = setTimeout(drain, delayMs)
  }
  from.on('data', (chunk: Buffer) => push(chunk))
  from.on('end', () => push(null))
}

/** Starts a proxy to 127.0.0.1:`targetPort` adding `roundTripMs` to every round trip. */
export async function startLatencyProxy(
  targetPort: number,
  roundTripMs: number
): Promise<LatencyProxy> {
  const oneWay = roundTripMs / 2
  const sockets = new Set<Socket>()
  const server: Server = createServer(client => {
    client.setNoDelay(true)
    const upstream = connect({ host: '127.0.0.1', port: targetPort, noDelay: true })
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    // The TCP handshake to the server is a round trip too: hold the client's first bytes
    // until the upstream connection is up (delivery is delayed either way).
    delayed(client, upstream, oneWay)
    delayed(upstream, client, oneWay)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('proxy has no port')
  return {
    port: address.port,
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}
