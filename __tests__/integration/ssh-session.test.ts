/**
 * src/ssh/session.ts against a real sshd with `MaxSessions 1`: sshd frees a session slot a
 * moment after the channel's close, so a command run right after the previous one is refused
 * now and then; exec retries the open briefly, and names MaxSessions when the slot stays taken.
 * And the upload path's packets (fast-cipher.ts, corked writes) as sshd reads them.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import { fastCipher } from '../../src/ssh/fast-cipher.js'
import { parseHostKeyPins } from '../../src/ssh/host-keys.js'
import { openSession, type SshSession } from '../../src/ssh/session.js'
import { startMaxSessionsServer } from '../rig/server-kinds.js'
import { connectTo, exec } from '../rig/ssh-client.js'
import { stopAllSshd, type Sshd } from '../rig/sshd.js'

const ROUNDS = 40

let server: Sshd
let session: SshSession

beforeAll(async () => {
  server = await startMaxSessionsServer()
  session = await openSession(
    { host: server.host, port: server.port, username: server.username },
    undefined,
    {
      privateKey: server.privateKey,
      passphrase: undefined,
      password: undefined,
      hostKeys: parseHostKeyPins(server.knownHostsLine).pins,
      insecureSkipHostKeyCheck: false,
      timeoutSeconds: 10
    }
  )
})
afterAll(async () => {
  session.close()
  await stopAllSshd()
})

describe('MaxSessions 1', () => {
  it(`control: without a retry, some of ${ROUNDS} back-to-back commands are refused ("open failed")`, async () => {
    const client = await connectTo(server)
    let refused = 0
    for (let i = 0; i < ROUNDS; i++) {
      await exec(client, 'true').catch((error: unknown) => {
        expect(error).toMatchObject({ reason: 2 })
        refused++
      })
    }
    client.end()
    // ~3 in 10 on this rig; none in 40 would mean the race is gone and the next test proves nothing.
    expect(refused).toBeGreaterThan(0)
  })

  it(`exec runs ${ROUNDS} back-to-back commands on one connection, every one`, async () => {
    const outputs: string[] = []
    for (let i = 0; i < ROUNDS; i++) {
      const result = await session.exec(`echo ${i}`)
      outputs.push(result.stdout.toString('utf8'))
    }
    expect(outputs).toEqual(Array.from({ length: ROUNDS }, (_, i) => `${i}\n`))
  })

  it('a slot that stays taken: fails within a second, naming MaxSessions', async () => {
    const stdin = new PassThrough()
    const holding = session.exec('cat >/dev/null', { stdin })
    // Let the first channel open before asking for the second.
    await new Promise(resolve => setTimeout(resolve, 200))
    const started = Date.now()
    await expect(session.exec('echo second')).rejects.toThrow(
      /refused to open a session channel 6 times in a row .*`MaxSessions`/
    )
    expect(Date.now() - started).toBeLessThan(1500)
    stdin.end()
    expect((await holding).code).toBe(0)
    expect((await session.exec('echo after')).stdout.toString('utf8')).toBe('after\n')
  })
})

describe('the upload path', () => {
  it('takes the leaner AES-GCM packet path with sshd, and 5 MB of stdin arrive byte for byte', async () => {
    const connection = (session as unknown as { ssh: { connection: unknown } }).ssh.connection
    // Already in place since the login (connect.ts); true again: sshd and ssh2 chose AES-GCM.
    expect(fastCipher(connection)).toBe(true)
    const data = randomBytes(5 << 20)
    const stdin = new PassThrough()
    const running = session.exec('sha256sum', { stdin })
    // Uneven writes, some in one tick, some apart: corked writes and window waits both happen.
    for (let at = 0; at < data.length;) {
      const size = 1 + ((at * 7919) % 300_000)
      stdin.write(data.subarray(at, at + size))
      at += size
      if (at % 3 === 0) await new Promise(resolve => setImmediate(resolve))
    }
    stdin.end()
    const result = await running
    expect(result.code).toBe(0)
    expect(result.stdout.toString('utf8')).toBe(
      `${createHash('sha256').update(data).digest('hex')}  -\n`
    )
  })
})
