/**
 * Proves the real-OpenSSH rig (__tests__/rig/sshd.ts) works and rejects what it should,
 * using ssh2's Client the way the action's SSH side will.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { Client, type ConnectConfig } from 'ssh2'
import {
  makeKeyPair,
  makeTestDir,
  portIsClosed,
  startSshd,
  stopAllSshd,
  type KeyPair,
  type Sshd
} from '../rig/sshd.js'

interface ExecResult {
  readonly stdout: string
  readonly stderr: string
  readonly code: number | null
}

const clients = new Set<Client>()

function connect(config: ConnectConfig): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client()
    clients.add(client)
    // Stays attached: an error after 'ready' (a dying server) must not be unhandled.
    client.on('error', reject)
    client.once('ready', () => resolve(client))
    client.connect({ readyTimeout: 10_000, ...config })
  })
}

function connectTo(sshd: Sshd, config: ConnectConfig = {}): Promise<Client> {
  return connect({ host: sshd.host, port: sshd.port, username: sshd.username, ...config })
}

function exec(client: Client, command: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error !== undefined) {
        reject(error)
        return
      }
      let stdout = ''
      let stderr = ''
      let code: number | null = null
      stream.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
      stream.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
      stream.on('exit', (exitCode: number | null) => (code = exitCode))
      stream.on('close', () => resolve({ stdout, stderr, code }))
    })
  })
}

function sftpWrite(client: Client, path: string, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.sftp((error, sftp) => {
      if (error !== undefined) {
        reject(error)
        return
      }
      sftp.writeFile(path, data, writeError => {
        sftp.end()
        if (writeError === null || writeError === undefined) resolve()
        else reject(writeError)
      })
    })
  })
}

function closed(client: Client, timeoutMs: number): Promise<'closed' | 'timeout'> {
  return new Promise(resolve => {
    const timer = setTimeout(() => resolve('timeout'), timeoutMs)
    client.once('close', () => {
      clearTimeout(timer)
      resolve('closed')
    })
  })
}

/** The fingerprint the way OpenSSH prints it: unpadded base64 of the key blob's SHA-256. */
function sha256Fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`
}

function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}

async function waitForLog(sshd: Sshd, text: string, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  while (!sshd.logs().includes(text) && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return sshd.logs()
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

describe('sshd rig', () => {
  const passphrase = 'correct horse battery staple'
  let sshd: Sshd
  let encryptedKey: KeyPair

  beforeAll(async () => {
    encryptedKey = await makeKeyPair({ passphrase, comment: 'encrypted-test-key' })
    sshd = await startSshd({ authorizedKeys: [encryptedKey.publicKey] })
  })

  afterAll(async () => {
    for (const client of clients) client.end()
    await stopAllSshd()
  })

  test('logs in with the rig key as an unprivileged user, and the host key matches what it reports', async () => {
    const offeredKeys: Buffer[] = []
    const client = await connectTo(sshd, {
      privateKey: sshd.privateKey,
      hostVerifier: (key: Buffer): boolean => {
        offeredKeys.push(key)
        return `ssh-ed25519 ${key.toString('base64')}` === sshd.hostPublicKey
      }
    })

    expect(offeredKeys).toHaveLength(1)
    const [hostKey] = offeredKeys
    expect(hostKey === undefined ? '' : sha256Fingerprint(hostKey)).toBe(sshd.hostKeyFingerprint)
    expect(sshd.knownHostsLine).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}`)
    expect(await readFile(sshd.knownHostsPath, 'utf8')).toBe(`${sshd.knownHostsLine}\n`)

    const result = await exec(client, 'id -un; id -u; echo "rig works"')
    const [name, uid, echoed] = result.stdout.trim().split('\n')
    expect({ name, echoed, code: result.code }).toEqual({
      name: sshd.username,
      echoed: 'rig works',
      code: 0
    })
    expect(uid).not.toBe('0')
  })

  test('runs trivial execs on one connection (timed, with and without TCP_NODELAY)', async () => {
    const client = await connectTo(sshd, { privateKey: sshd.privateKey })
    const report: string[] = []
    for (const noDelay of [false, true]) {
      client.setNoDelay(noDelay)
      const timings: number[] = []
      for (let i = 0; i < 5; i++) {
        const started = performance.now()
        expect(await exec(client, 'true')).toEqual({ stdout: '', stderr: '', code: 0 })
        timings.push(performance.now() - started)
      }
      report.push(
        `noDelay=${noDelay}: median ${median(timings).toFixed(1)} ms [${timings.map(ms => ms.toFixed(0)).join(', ')}]`
      )
    }
    console.log(`trivial exec on an open connection: ${report.join('; ')}`)
  })

  test('rejects a private key that is not authorised', async () => {
    const stranger = await makeKeyPair()

    await expect(connectTo(sshd, { privateKey: stranger.privateKey })).rejects.toMatchObject({
      level: 'client-authentication'
    })
    expect(await waitForLog(sshd, stranger.fingerprint)).toContain(
      `Failed publickey for ${sshd.username}`
    )
  })

  test('refuses a host verifier that expects another host key', async () => {
    const otherHost = await makeKeyPair()

    await expect(
      connectTo(sshd, {
        privateKey: sshd.privateKey,
        hostVerifier: (key: Buffer): boolean => sha256Fingerprint(key) === otherHost.fingerprint
      })
    ).rejects.toThrow(/verification failed/i)
  })

  test('accepts a passphrase-protected key authorised via options, only with its passphrase', async () => {
    expect(encryptedKey.privateKey).toContain('BEGIN OPENSSH PRIVATE KEY')
    await expect(connectTo(sshd, { privateKey: encryptedKey.privateKey })).rejects.toThrow(
      /passphrase/i
    )

    const client = await connectTo(sshd, { privateKey: encryptedKey.privateKey, passphrase })

    expect((await exec(client, 'id -un')).stdout.trim()).toBe(sshd.username)
  })

  test('makeTestDir() gives a directory the remote user owns and can write, by exec and by SFTP', async () => {
    const dir = await makeTestDir()
    const client = await connectTo(sshd, { privateKey: sshd.privateKey })

    const written = await exec(
      client,
      `printf '%s' "written by $(id -un)" > ${quote(`${dir}/exec.txt`)}`
    )
    await sftpWrite(client, `${dir}/sftp.txt`, 'written over sftp')

    expect(written).toMatchObject({ code: 0, stderr: '' })
    expect(await readFile(`${dir}/exec.txt`, 'utf8')).toBe(`written by ${sshd.username}`)
    expect(await readFile(`${dir}/sftp.txt`, 'utf8')).toBe('written over sftp')
    const remoteUid = Number((await exec(client, 'id -u')).stdout.trim())
    expect((await stat(`${dir}/exec.txt`)).uid).toBe(remoteUid)
    expect((await stat(dir)).uid).toBe(remoteUid)
  })

  test('password logins are off by default and work with passwordAuthentication (root only)', async () => {
    if (process.getuid?.() !== 0) {
      await expect(startSshd({ passwordAuthentication: true })).rejects.toThrow(/needs root/)
      return
    }
    const withPasswords = await startSshd({ passwordAuthentication: true })
    const password = withPasswords.password ?? ''
    expect(password.length).toBeGreaterThanOrEqual(16)

    const client = await connectTo(withPasswords, { password })
    expect((await exec(client, 'id -un')).stdout.trim()).toBe(withPasswords.username)
    await expect(connectTo(withPasswords, { password: `${password}x` })).rejects.toMatchObject({
      level: 'client-authentication'
    })
    await expect(connectTo(sshd, { password })).rejects.toMatchObject({
      level: 'client-authentication'
    })
    client.end()
    await withPasswords.stop()
  })

  test('kill() drops live connections like a dying server; stop() then removes its dir', async () => {
    const victim = await startSshd()
    expect(victim.port).not.toBe(sshd.port)
    expect(victim.hostKeyFingerprint).not.toBe(sshd.hostKeyFingerprint)
    expect(victim.logs()).toContain(`Server listening on 127.0.0.1 port ${victim.port}`)
    const client = await connectTo(victim, { privateKey: victim.privateKey })
    expect((await exec(client, 'echo alive')).stdout).toBe('alive\n')
    const closing = closed(client, 10_000)

    await victim.kill()

    expect(await closing).toBe('closed')
    expect(isRunning(victim.pid)).toBe(false)
    expect(await portIsClosed(victim.port)).toBe(true)
    expect(existsSync(victim.dir)).toBe(true)
    await victim.stop()
    expect(existsSync(victim.dir)).toBe(false)
  })

  test('stop() ends sshd and its live sessions and removes its dir', async () => {
    const server = await startSshd()
    const client = await connectTo(server, { privateKey: server.privateKey })
    const closing = closed(client, 10_000)

    await server.stop()

    expect(await closing).toBe('closed')
    expect(isRunning(server.pid)).toBe(false)
    expect(existsSync(server.dir)).toBe(false)
  })

  test('reuses a given host key, so a restarted server keeps its identity', async () => {
    const offered: string[] = []
    const again = await startSshd({ hostKey: sshd.hostPrivateKey })
    const client = await connectTo(again, {
      privateKey: again.privateKey,
      hostVerifier: (key: Buffer): boolean => offered.push(sha256Fingerprint(key)) > 0
    })

    expect(again.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint)
    expect(again.hostPublicKey).toBe(sshd.hostPublicKey)
    expect(offered).toEqual([sshd.hostKeyFingerprint])
    client.end()
    await again.stop()
  })

  test('env sets session variables after the defaults of sshd, so PATH can be replaced', async () => {
    const server = await startSshd({ env: { PATH: '/usr/bin:/bin', GD_RIG: 'a b' } })
    const client = await connectTo(server, { privateKey: server.privateKey })
    expect((await exec(client, 'echo "$PATH|$GD_RIG"')).stdout).toBe('/usr/bin:/bin|a b\n')
    client.end()
    await server.stop()
    await expect(startSshd({ env: { 'BAD-NAME': 'x' } })).rejects.toThrow(/env "BAD-NAME"/)
  })

  test('extraHostKeyTypes: several host keys, the one a client asks for first is offered', async () => {
    const server = await startSshd({ extraHostKeyTypes: ['rsa', 'ecdsa'] })
    expect(server.hostKeys.map(key => key.type)).toEqual([
      'ssh-ed25519',
      'ssh-rsa',
      'ecdsa-sha2-nistp256'
    ])
    expect(server.hostKeys[0]?.knownHostsLine).toBe(server.knownHostsLine)
    for (const [algorithm, index] of [
      ['rsa-sha2-512', 1],
      ['ecdsa-sha2-nistp256', 2],
      ['ssh-ed25519', 0]
    ] as const) {
      const offered: string[] = []
      const client = await connectTo(server, {
        privateKey: server.privateKey,
        algorithms: { serverHostKey: [algorithm] },
        hostVerifier: (key: Buffer): boolean => offered.push(sha256Fingerprint(key)) > 0
      })
      client.end()
      expect(offered).toEqual([server.hostKeys[index]?.fingerprint])
    }
    await server.stop()
  })

  test('only creates or changes accounts named gdtest…', async () => {
    await expect(startSshd({ user: { name: 'root' } })).rejects.toThrow(
      /Test user name "root" is not allowed/
    )
  })

  test('fails with the complaint of sshd when it cannot start', async () => {
    await expect(startSshd({ extraConfig: ['NoSuchOption yes'] })).rejects.toThrow(
      /sshd exited while starting[\s\S]*Bad configuration option: NoSuchOption/
    )
  })

  test('says what is missing and how to install it when sshd is not there', async () => {
    await expect(startSshd({ sshdPath: '/nonexistent/sbin/sshd' })).rejects.toThrow(
      /\/nonexistent\/sbin\/sshd.*apt-get install -y openssh-server/
    )
  })
})
