/**
 * Proves each kind of test server (__tests__/rig/server-kinds.ts) has the property the
 * end-to-end tests rely on, by logging in with ssh2 or the OpenSSH client and looking.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { Client, type AuthenticationType, type ClientChannel } from 'ssh2'
import {
  GREETING,
  KIND_USERS,
  makeSmallDisk,
  SERVER_MATRIX,
  startBashServer,
  startBsdtarServer,
  startBusyboxServer,
  startDashServer,
  startDropbear,
  startFileSizeLimitedServer,
  startFlakyServer,
  startFleet,
  startGreetingServer,
  startHomelessServer,
  startJumpHost,
  startKeyboardInteractiveServer,
  startMaxSessionsServer,
  startRefusingProxy,
  startSftpOnlyServer,
  type GreetingServer,
  type RefusingProxy
} from '../rig/server-kinds.js'
import { connectTo, exec, run, shQuote } from '../rig/ssh-client.js'
import { makeTestDir, stopAllSshd, type Sshd } from '../rig/sshd.js'
import { RIG_ROOT } from '../rig/tool-dirs.js'

const MiB = 1024 * 1024

function sha256Fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`
}

/** The first line a server sends: its SSH identification string. */
function banner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.once('error', reject)
    socket.once('data', data => {
      socket.destroy()
      resolve(data.toString('latin1').split('\r\n')[0] ?? '')
    })
  })
}

/** Runs the OpenSSH client with strict host key checking against the server's known_hosts. */
function opensshClient(server: Sshd, command: string): Promise<string> {
  const args = [
    ...['-i', server.privateKeyPath, '-p', String(server.port)],
    ...['-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes'],
    ...[
      '-o',
      `UserKnownHostsFile=${server.knownHostsPath}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null'
    ],
    `${server.username}@${server.host}`,
    command
  ]
  return new Promise((resolve, reject) => {
    execFile('ssh', args, { encoding: 'utf8', timeout: 20_000 }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout)
      else reject(new Error(`ssh failed: ${stderr}`))
    })
  })
}

/** Opens an exec channel (its output drained) and keeps it open until its stdin is ended. */
function openChannel(client: Client, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error !== undefined) return reject(error)
      stream.resume()
      stream.stderr.resume()
      resolve(stream)
    })
  })
}

function forwardOut(client: Client, port: number): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    client.forwardOut('127.0.0.1', 0, '127.0.0.1', port, (error, stream) =>
      error === undefined ? resolve(stream) : reject(error)
    )
  })
}

/** The server's log once it holds `text` (stderr arrives apart from the SSH traffic). */
async function waitForLog(server: Sshd, text: string, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  while (!server.logs().includes(text) && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return server.logs()
}

async function retry<T>(attempt: () => Promise<T>, times = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt()
    } catch (error) {
      if (i >= times) throw error
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
}

function connectionError(server: Sshd): Promise<unknown> {
  return connectTo(server).then(
    client => {
      client.end()
      return undefined
    },
    (error: unknown) => error
  )
}

interface Servers {
  dash: Sshd
  bash: Sshd
  busybox: Sshd
  dropbear: Sshd
  bsdtar: Sshd
  greetingBash: GreetingServer
  greetingSh: GreetingServer
  maxSessions: Sshd
  closedJump: Sshd
  openJump: Sshd
  sftpOnly: Sshd
  keyboardInteractive: Sshd
  fileSizeLimited: Sshd
  flaky: RefusingProxy
}

describe('server kinds', () => {
  let s: Servers

  beforeAll(async () => {
    const [dash, bash, busybox, dropbear, bsdtar, greetingBash, greetingSh] = await Promise.all([
      startDashServer(),
      startBashServer(),
      startBusyboxServer(),
      startDropbear(),
      startBsdtarServer(),
      startGreetingServer('bashrc'),
      startGreetingServer('ssh-rc')
    ])
    const [maxSessions, closedJump, openJump, sftpOnly, keyboardInteractive] = await Promise.all([
      startMaxSessionsServer(),
      startJumpHost(false),
      startJumpHost(true),
      startSftpOnlyServer(),
      startKeyboardInteractiveServer()
    ])
    const [fileSizeLimited, flaky] = await Promise.all([
      startFileSizeLimitedServer(MiB),
      startFlakyServer({ refuseFirst: 2 })
    ])
    s = {
      ...{ dash, bash, busybox, dropbear, bsdtar, greetingBash, greetingSh },
      ...{ maxSessions, closedJump, openJump, sftpOnly, keyboardInteractive },
      ...{ fileSizeLimited, flaky }
    }
  })

  afterAll(async () => {
    await stopAllSshd()
  })

  test('every kind of the matrix is a server with its own port, dir and host key', () => {
    const matrix = [s.dash, s.bash, s.busybox, s.dropbear, s.bsdtar]
    expect(SERVER_MATRIX.map(kind => kind.name)).toEqual([
      'OpenSSH, dash',
      'OpenSSH, bash',
      'BusyBox only',
      'Dropbear',
      'bsdtar'
    ])
    expect(new Set(matrix.map(server => server.port)).size).toBe(matrix.length)
    expect(new Set(matrix.map(server => server.dir)).size).toBe(matrix.length)
    expect(new Set(matrix.map(server => server.hostKeyFingerprint)).size).toBe(matrix.length)
    for (const server of matrix) {
      expect(server.knownHostsLine).toBe(`[127.0.0.1]:${server.port} ${server.hostPublicKey}`)
    }
  })

  test('OpenSSH with dash: the login shell running commands is dash', async () => {
    const result = await run(
      s.dash,
      'id -un; readlink /proc/$$/exe; echo "${BASH_VERSION:-no bash}"'
    )
    expect(result.stdout.split('\n')).toEqual([
      KIND_USERS.dash.name,
      expect.stringMatching(/\/dash$/),
      'no bash',
      ''
    ])
    expect(s.dash.shell).toBe('/bin/dash')
  })

  test('OpenSSH with bash: the login shell running commands is bash', async () => {
    const result = await run(
      s.bash,
      'id -un; readlink /proc/$$/exe; echo "${BASH_VERSION:-no bash}"'
    )
    expect(result.stdout.split('\n')).toEqual([
      KIND_USERS.bash.name,
      expect.stringMatching(/\/bash$/),
      expect.stringMatching(/^\d+\.\d+/),
      ''
    ])
  })

  test('BusyBox only: sh, tar, find and sha256sum are BusyBox, PATH holds nothing else, no openssl', async () => {
    const bin = `${RIG_ROOT}/busybox/bin`
    const script = [
      'echo "PATH=$PATH"',
      'echo "shell=$(readlink /proc/$$/exe)"',
      'for tool in tar find sha256sum sh; do echo "$tool=$(readlink -f "$(command -v $tool)")"; done',
      'echo "tar-help=$(tar --help 2>&1 | head -n 1)"',
      'echo "find-help=$(find --help 2>&1 | head -n 1)"',
      'echo "targets=$(for f in "$PATH"/*; do readlink -f "$f"; done | sort -u | tr "\\n" " ")"',
      'for tool in openssl bash gtar gawk perl python3; do command -v $tool >/dev/null && echo "found $tool"; done',
      'command -v openssl; echo "openssl-status=$?"'
    ].join('\n')
    const { stdout, code } = await run(s.busybox, script)
    const lines = new Map(
      stdout
        .trim()
        .split('\n')
        .map(line => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
    )
    expect(code).toBe(0)
    expect(lines.get('PATH')).toBe(bin)
    expect(lines.get('shell')).toMatch(/\/busybox$/)
    for (const tool of ['tar', 'find', 'sha256sum', 'sh']) {
      expect(lines.get(tool)).toMatch(/\/busybox$/)
    }
    expect(lines.get('tar-help')).toMatch(/^BusyBox v/)
    expect(lines.get('find-help')).toMatch(/^BusyBox v/)
    expect(lines.get('targets')?.trim().split(' ')).toHaveLength(1)
    expect(stdout).not.toContain('found ')
    expect(lines.get('openssl-status')).not.toBe('0')
    expect(s.busybox.shell).toBe(`${bin}/sh`)
  })

  test('Dropbear: answers as Dropbear, with a host key OpenSSH accepts from knownHostsLine', async () => {
    expect(await banner(s.dropbear.port)).toMatch(/^SSH-2\.0-dropbear/)
    expect(s.dropbear.software).toBe('Dropbear')
    const offered: string[] = []
    const client = await connectTo(s.dropbear, {
      hostVerifier: (key: Buffer): boolean => offered.push(sha256Fingerprint(key)) > 0
    })
    expect((await exec(client, 'id -un')).stdout).toBe(`${KIND_USERS.dropbear.name}\n`)
    client.end()
    expect(offered).toEqual([s.dropbear.hostKeyFingerprint])
    expect(s.dropbear.hostPrivateKey).toContain('BEGIN OPENSSH PRIVATE KEY')
    expect(await opensshClient(s.dropbear, 'echo via OpenSSH client')).toBe('via OpenSSH client\n')
  })

  test('bsdtar: tar is bsdtar (libarchive), the other tools are GNU', async () => {
    const result = await run(
      s.bsdtar,
      'tar --version; find --version | head -n 1; sha256sum --version | head -n 1'
    )
    const [tar, find, sha] = result.stdout.split('\n')
    expect(tar).toMatch(/^bsdtar \d.* libarchive/)
    expect(find).toMatch(/GNU findutils/)
    expect(sha).toMatch(/GNU coreutils/)
  })

  test.each(['greetingBash', 'greetingSh'] as const)(
    '%s: a greeting comes on stdout before every command output',
    async which => {
      const server = s[which]
      const result = await run(server, 'echo payload; echo "$(readlink /proc/$$/exe)"')
      const [greeting, payload, shell] = result.stdout.split('\n')
      expect({ greeting, payload, code: result.code }).toEqual({
        greeting: GREETING,
        payload: 'payload',
        code: 0
      })
      expect(shell).toMatch(which === 'greetingBash' ? /\/bash$/ : /\/dash$/)
      expect(server.greeting).toBe(GREETING)
    }
  )

  test('MaxSessions 1: a second channel at once is refused, one after the other works', async () => {
    const client = await connectTo(s.maxSessions)
    const first = await openChannel(client, 'cat')
    // OpenSSH answers SSH_OPEN_CONNECT_FAILED (2) and logs "no more sessions".
    await expect(exec(client, 'echo second')).rejects.toMatchObject({
      message: expect.stringMatching(/open fail/i),
      reason: 2
    })
    expect(await waitForLog(s.maxSessions, 'no more sessions')).toContain('no more sessions')
    const firstClosed = new Promise(resolve => first.once('close', resolve))
    first.end()
    await firstClosed
    // sshd frees the session slot just after the close exchange: retry briefly, as a client must.
    expect((await retry(() => exec(client, 'echo third'))).stdout).toBe('third\n')
    client.end()

    // Control: the default config allows both at once.
    const control = await connectTo(s.openJump)
    const held = await openChannel(control, 'cat')
    expect((await exec(control, 'echo second')).stdout).toBe('second\n')
    held.end()
    control.end()
  })

  test('jump hosts: AllowTcpForwarding no refuses forwardOut; yes forwards to another server', async () => {
    const closed = await connectTo(s.closedJump)
    // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (1), "open failed"; sshd logs the refusal.
    await expect(forwardOut(closed, s.dash.port)).rejects.toMatchObject({
      message: expect.stringMatching(/open failed/),
      reason: 1
    })
    expect(await waitForLog(s.closedJump, 'refused local port forward')).toContain(
      'refused local port forward'
    )
    closed.end()

    const open = await connectTo(s.openJump)
    const sock = await forwardOut(open, s.dash.port)
    const behind = await connectTo(s.dash, { sock })
    expect((await exec(behind, 'id -un')).stdout).toBe(`${KIND_USERS.dash.name}\n`)
    behind.end()
    open.end()
  })

  test('SFTP-only account: a command never runs, sshd says so on stdout with exit 1; SFTP works', async () => {
    const client = await connectTo(s.sftpOnly)
    const result = await exec(client, 'echo ran; touch ran-marker')
    expect(result).toMatchObject({
      stdout: 'This service allows sftp connections only.\n',
      code: 1
    })
    const names = await new Promise<string[]>((resolve, reject) => {
      client.sftp((error, sftp) => {
        if (error !== undefined) return reject(error)
        sftp.readdir('.', (readError, list) =>
          readError === null || readError === undefined
            ? resolve(list.map(entry => entry.filename))
            : reject(readError)
        )
      })
    })
    expect(names).not.toContain('ran-marker')
    expect(names).toContain('.bashrc')
    client.end()
  })

  test('keyboard-interactive only: no "password" method, the PAM prompt takes the password', async () => {
    const server = s.keyboardInteractive
    const password = server.password ?? ''
    const offered: string[][] = []
    const prompts: string[] = []
    const client = await connectTo(
      server,
      {
        tryKeyboard: true,
        authHandler: (methodsLeft, _partial, next): void => {
          if (methodsLeft === null) return next({ type: 'none', username: server.username })
          offered.push(methodsLeft)
          const type: AuthenticationType = 'keyboard-interactive'
          next({
            type,
            username: server.username,
            prompt: (_name, _instructions, _lang, questions, finish): void => {
              prompts.push(...questions.map(question => question.prompt))
              finish(questions.map(() => password))
            }
          })
        }
      },
      { key: false }
    )
    expect((await exec(client, 'id -un')).stdout).toBe(`${KIND_USERS.keyboardInteractive.name}\n`)
    client.end()
    expect(offered[0]).toEqual(['publickey', 'keyboard-interactive'])
    expect(prompts).toEqual(['Password: '])
    await expect(connectTo(server, { password }, { key: false })).rejects.toMatchObject({
      level: 'client-authentication'
    })
  })

  test('file size limit: a write past it is killed by SIGXFSZ, or fails with EFBIG', async () => {
    const dir = await makeTestDir(s.fileSizeLimited)
    const big = shQuote(`${dir}/big`)
    const killed = await run(
      s.fileSizeLimited,
      `head -c 2000000 /dev/zero > ${big}; echo "status=$?"`
    )
    expect(killed.stdout).toBe('status=153\n')
    expect(killed.stderr).toMatch(/File size limit exceeded/)
    expect((await stat(`${dir}/big`)).size).toBe(MiB)

    const ignored = await run(
      s.fileSizeLimited,
      `trap '' XFSZ; head -c 2000000 /dev/zero > ${big}; echo "status=$?"`
    )
    expect(ignored.stdout).toBe('status=1\n')
    expect(ignored.stderr).toMatch(/File too large/)
  })

  test('small disk: a write past its size fails with ENOSPC, as the server user', async () => {
    const disk = await makeSmallDisk(s.dash, MiB)
    const file = shQuote(`${disk.path}/fill`)
    const result = await run(s.dash, `head -c 2000000 /dev/zero > ${file}; echo "status=$?"`)
    expect(result.stdout).toBe('status=1\n')
    expect(result.stderr).toMatch(/No space left on device/)
    expect((await stat(`${disk.path}/fill`)).size).toBeLessThanOrEqual(MiB)
    expect((await stat(disk.path)).uid).toBe(Number((await run(s.dash, 'id -u')).stdout))
    await disk.stop()
    expect(await stat(disk.path).catch(() => 'gone')).toBe('gone')
  })

  test('refusing proxy: the first two connections are reset, the third logs in', async () => {
    expect(await connectionError(s.flaky)).toMatchObject({ code: 'ECONNRESET' })
    expect(await connectionError(s.flaky)).toMatchObject({ code: 'ECONNRESET' })
    expect((await run(s.flaky, 'echo through')).stdout).toBe('through\n')
    expect({ attempts: s.flaky.attempts(), refused: s.flaky.refused() }).toEqual({
      attempts: 3,
      refused: 2
    })
    expect(s.flaky.knownHostsLine).toBe(`[127.0.0.1]:${s.flaky.port} ${s.flaky.hostPublicKey}`)
    expect(s.flaky.port).not.toBe(s.flaky.target.port)

    const closing = await startRefusingProxy(s.dash, { refuseFirst: 1, how: 'close' })
    expect(await connectionError(closing)).toMatchObject({
      message: expect.stringMatching(/lost before handshake/)
    })
    expect((await run(closing, 'id -un')).stdout).toBe(`${KIND_USERS.dash.name}\n`)
    await closing.stop()
    expect((await run(s.dash, 'echo target still up')).code).toBe(0)
  })

  test('homeless user: sshd cannot chdir to the missing home and runs commands in /', async () => {
    const server = await startHomelessServer()
    const result = await run(server, 'pwd; echo "HOME=$HOME"')
    expect(result.stdout).toBe(`/\nHOME=${server.home}\n`)
    expect(result.stderr).toContain(`Could not chdir to home directory ${server.home}`)
    await server.stop()
  })

  test('fleet: three servers, each with its own user and a test dir that user owns', async () => {
    const fleet = await startFleet(3)
    const names = await Promise.all(
      fleet.map(async server => (await run(server, 'id -un')).stdout.trim())
    )
    expect(names).toEqual(['gdtest-fleet1', 'gdtest-fleet2', 'gdtest-fleet3'])
    expect(new Set(fleet.map(server => server.port)).size).toBe(3)
    for (const server of fleet) {
      const dir = await makeTestDir(server)
      const uid = Number((await run(server, `touch ${shQuote(`${dir}/x`)} && id -u`)).stdout)
      expect((await stat(dir)).uid).toBe(uid)
    }
    await Promise.all(fleet.map(server => server.stop()))
  })
})
