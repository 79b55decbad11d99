/**
 * The upload path's AES-GCM packets (fast-cipher.ts) and corked socket writes (session.ts)
 * through key exchanges with a real sshd: rekeys started by the client in the middle of
 * uploads, rekeys sshd starts itself every few hundred kilobytes (`RekeyLimit`), and several
 * execs writing stdin at once on the one connection. Every byte must arrive, on every channel,
 * and the cipher made by each new key exchange must take the leaner path too.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import type { Client } from 'ssh2'
import { fastCipher } from '../../src/ssh/fast-cipher.js'
import { parseHostKeyPins } from '../../src/ssh/host-keys.js'
import { openSession, type SshSession } from '../../src/ssh/session.js'
import { startSshd, stopAllSshd, type Sshd } from '../rig/sshd.js'

let server: Sshd

async function open(sshd: Sshd): Promise<SshSession> {
  return openSession({ host: sshd.host, port: sshd.port, username: sshd.username }, undefined, {
    privateKey: sshd.privateKey,
    passphrase: undefined,
    password: undefined,
    hostKeys: parseHostKeyPins(sshd.knownHostsLine).pins,
    insecureSkipHostKeyCheck: false,
    timeoutSeconds: 10
  })
}

const clientOf = (session: SshSession): Client =>
  (session as unknown as { ssh: { connection: Client } }).ssh.connection

/** The outbound cipher ssh2 uses now (a key exchange replaces it). */
const cipherOf = (client: Client): object =>
  (client as unknown as { _protocol: { _cipher: object } })._protocol._cipher

/**
 * A key exchange started by the client (ssh2 1.x has it on the protocol, not the client): done
 * when ssh2 says so ('handshake', after the queued packets went out with the new keys).
 */
function rekey(client: Client): Promise<void> {
  return new Promise(resolve => {
    client.once('handshake', () => resolve())
    ;(client as unknown as { _protocol: { rekey(): void } })._protocol.rekey()
  })
}

/** Writes `data` to `stdin` in uneven pieces, some in one tick, some a turn apart. */
async function feed(stdin: PassThrough, data: Buffer, seed: number): Promise<void> {
  for (let at = 0; at < data.length;) {
    const size = 1 + ((at * 7919 + seed) % 200_000)
    stdin.write(data.subarray(at, at + size))
    at += size
    if ((at + seed) % 3 === 0) await new Promise(resolve => setImmediate(resolve))
  }
  stdin.end()
}

const hex = (data: Buffer): string => `${createHash('sha256').update(data).digest('hex')}  -\n`

beforeAll(async () => {
  server = await startSshd()
})
afterAll(async () => {
  await stopAllSshd()
})

describe('AES-GCM packets through key exchanges', () => {
  it('four execs uploading at once arrive byte for byte while the client rekeys three times', async () => {
    const session = await open(server)
    try {
      const client = clientOf(session)
      expect(fastCipher(client)).toBe(true)
      const before = cipherOf(client)
      const uploads = [0, 1, 2, 3].map(i => {
        const data = randomBytes((6 << 20) + i * 4099)
        const stdin = new PassThrough()
        const running = session.exec('sha256sum', { stdin })
        return { data, stdin, running }
      })
      let finished = 0
      for (const upload of uploads) void upload.running.finally(() => finished++)
      const fed = Promise.all(uploads.map((u, i) => feed(u.stdin, u.data, i * 131)))
      const finishedAtRekey: number[] = []
      for (let i = 0; i < 3; i++) {
        await new Promise(resolve => setTimeout(resolve, 10))
        finishedAtRekey.push(finished)
        await rekey(client)
      }
      // The key exchanges happened while the uploads ran.
      expect(finishedAtRekey[0]).toBe(0)
      await fed
      for (const upload of uploads) {
        const result = await upload.running
        expect([result.code, result.stdout.toString('utf8')]).toEqual([0, hex(upload.data)])
      }
      // New keys, a new cipher: on the leaner path too (its class was patched).
      const after = cipherOf(client)
      expect(after).not.toBe(before)
      expect(fastCipher(client)).toBe(true)
      expect(Object.getPrototypeOf(after)).toBe(Object.getPrototypeOf(before))
    } finally {
      session.close()
    }
  })

  it('an upload arrives byte for byte when sshd rekeys every 256 KB', async () => {
    const rekeying = await startSshd({ extraConfig: ['RekeyLimit 256K'] })
    const session = await open(rekeying)
    try {
      const client = clientOf(session)
      const ciphers = new Set<object>()
      const data = randomBytes(8 << 20)
      const stdin = new PassThrough()
      const running = session.exec('sha256sum', { stdin })
      const watch = setInterval(() => ciphers.add(cipherOf(client)), 5)
      const second = new PassThrough()
      const other = randomBytes(2 << 20)
      const alongside = session.exec('sha256sum', { stdin: second })
      await Promise.all([feed(stdin, data, 7), feed(second, other, 11)])
      const [one, two] = await Promise.all([running, alongside])
      clearInterval(watch)
      expect([one.code, one.stdout.toString('utf8')]).toEqual([0, hex(data)])
      expect([two.code, two.stdout.toString('utf8')]).toEqual([0, hex(other)])
      // sshd rekeyed (RekeyLimit counts what it receives): more than one cipher was seen.
      expect(ciphers.size).toBeGreaterThan(1)
    } finally {
      session.close()
    }
  })
})
