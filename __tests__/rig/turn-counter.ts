/**
 * A TCP proxy on 127.0.0.1 that counts the client's turns: how many times the client sends
 * after something from the server reached it, i.e. the round trips it waited for. Data from the
 * server is held `holdMs` before it reaches the client, so whatever the client sends without
 * waiting (pipelined) arrives before it and counts as the same turn: the count does not depend
 * on how fast the machine is.
 */
import { connect, createServer, type Socket } from 'node:net'
import type { Sshd } from './sshd.js'

export interface TurnCounter {
  /** The server, reached through the proxy (its port and known_hosts line are the proxy's). */
  readonly via: Sshd
  /** The client's turns over every connection so far. */
  turns(): number
  close(): Promise<void>
}

export async function countTurns(server: Sshd, holdMs = 50): Promise<TurnCounter> {
  let turns = 0
  const sockets = new Set<Socket>()
  const proxy = createServer({ allowHalfOpen: true }, client => {
    const upstream = connect({ host: '127.0.0.1', port: server.port, allowHalfOpen: true })
    let answered = true // the first bytes are the first turn
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('data', (chunk: Buffer) => {
      if (answered) turns++
      answered = false
      upstream.write(chunk)
    })
    client.on('end', () => upstream.end())
    upstream.on('data', (chunk: Buffer) =>
      setTimeout(() => {
        answered = true
        client.write(chunk)
      }, holdMs)
    )
    upstream.on('end', () => setTimeout(() => client.end(), holdMs))
  })
  await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
  const address = proxy.address()
  if (address === null || typeof address === 'string') throw new Error('proxy has no port')
  const port = address.port
  const via: Sshd = {
    ...server,
    port,
    knownHostsLine: server.knownHostsLine.replace(`:${server.port} `, `:${port} `)
  }
  return {
    via,
    turns: () => turns,
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        proxy.close(() => resolve())
      })
  }
}
