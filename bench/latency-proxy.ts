/**
 * A TCP proxy on 127.0.0.1 that holds every chunk for `oneWayMs` in each direction, in order:
 * a round trip of 2 × oneWayMs between a client and a loopback server, as a real network has
 * (kernel netem is not available on these machines). Bandwidth is not limited.
 *
 * The TCP handshake costs nothing here: the client's connect to the proxy completes at once
 * and the proxy's to the server too, where a real network spends one round trip before the
 * first byte can be sent (and the server's first bytes, e.g. SSH's version line, leave at once
 * instead of after the handshake). Every figure measured through it is therefore at least one
 * round trip short of the same connection across a real network, for every tool alike.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'

export interface LatencyProxy {
  readonly port: number
  close(): Promise<void>
}

/**
 * Forwards `from` to `to`, each chunk delivered `delayMs` after it arrived, in order; `from`'s
 * end (FIN) is passed on after the same delay, so a half-closed connection keeps carrying
 * what is still in flight the other way.
 */
function delayed(from: Socket, to: Socket, delayMs: number): void {
  const queue: { at: number; chunk: Buffer | null }[] = []
  let timer: NodeJS.Timeout | undefined
  const drain = (): void => {
    timer = undefined
    const now = Date.now()
    while (queue.length > 0 && (queue[0]?.at ?? Infinity) <= now) {
      const item = queue.shift()
      if (!item || to.destroyed) break
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
  // Half-open allowed on both legs: Node would otherwise end a socket's writable side as soon
  // as its peer's FIN arrives, and drop (or fail on) chunks still held for it.
  const server: Server = createServer({ allowHalfOpen: true }, client => {
    client.setNoDelay(true)
    const upstream = connect({
      host: '127.0.0.1',
      port: targetPort,
      noDelay: true,
      allowHalfOpen: true
    })
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      // A reset on either leg resets the whole connection, as it would end to end.
      s.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    // Chunks written before the upstream connect completes are buffered by Node.
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
