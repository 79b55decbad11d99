/**
 * Logging in as real users do, through dist/index.js against real OpenSSH servers: the keys
 * they paste (PKCS8 from openssl or Terraform, encrypted or not; DSA refused before
 * connecting), passwords taken by `password` or only by keyboard-interactive (PAM), and
 * what the run says when the server refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createPrivateKey } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { deploy, readRemote, workspaceWith } from '../rig/deploy.js'
import { startKeyboardInteractiveServer } from '../rig/server-kinds.js'
import { makeKeyPair, makeTestDir, startSshd, stopAllSshd, type Sshd } from '../rig/sshd.js'

interface PastedKey {
  /** The private key as pasted ("-----BEGIN PRIVATE KEY-----" …). */
  readonly privateKey: string
  /** Its authorized_keys line, computed apart from the code under test. */
  readonly publicKey: string
}

function wire(...fields: Buffer[]): Buffer {
  return Buffer.concat(
    fields.flatMap(field => {
      const length = Buffer.alloc(4)
      length.writeUInt32BE(field.length)
      return [length, field]
    })
  )
}

/** A PKCS8 key made by `openssl genpkey`, optionally encrypted (BEGIN ENCRYPTED PRIVATE KEY). */
function opensslKey(algorithm: 'RSA' | 'EC' | 'ED25519', passphrase?: string): PastedKey {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gdtest-pkcs8-'))
  try {
    const file = path.join(dir, 'key.pem')
    const options = {
      RSA: ['-pkeyopt', 'rsa_keygen_bits:2048'],
      EC: ['-pkeyopt', 'ec_paramgen_curve:P-256'],
      ED25519: []
    }[algorithm]
    const cipher = passphrase === undefined ? [] : ['-aes-256-cbc', '-pass', `pass:${passphrase}`]
    execFileSync(
      'openssl',
      ['genpkey', '-algorithm', algorithm, ...options, ...cipher, '-out', file],
      { stdio: 'pipe' }
    )
    const privateKey = readFileSync(file, 'utf8')
    let publicKey: string
    if (algorithm === 'ED25519') {
      // ssh-keygen cannot read PKCS8 Ed25519: build the line from the raw public key.
      const key = createPrivateKey({ key: privateKey, ...(passphrase ? { passphrase } : {}) })
      const raw = Buffer.from(key.export({ format: 'jwk' }).x ?? '', 'base64url')
      publicKey = `ssh-ed25519 ${wire(Buffer.from('ssh-ed25519'), raw).toString('base64')}`
    } else {
      const args = ['-y', ...(passphrase ? ['-P', passphrase] : []), '-f', file]
      publicKey = execFileSync('ssh-keygen', args, { encoding: 'utf8' }).trim()
    }
    return { privateKey, publicKey }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A DSA key made by ssh-keygen, in OpenSSH format or the old PEM one. */
function dsaKey(format: 'openssh' | 'pem'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gdtest-dsa-'))
  try {
    const file = path.join(dir, 'id_dsa')
    const pem = format === 'pem' ? ['-m', 'PEM'] : []
    execFileSync('ssh-keygen', ['-q', '-t', 'dsa', ...pem, '-N', '', '-f', file])
    return readFileSync(file, 'utf8')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function connectionsTo(server: Sshd): number {
  return server
    .logs()
    .split('\n')
    .filter(line => line.includes('Connection from')).length
}

const rsa = opensslKey('RSA')
const ecdsaEncrypted = opensslKey('EC', 'ec pass phrase')
const ed25519 = opensslKey('ED25519')
const ed25519Encrypted = opensslKey('ED25519', 'ed pass phrase')

let keys: Sshd
let passwords: Sshd
let keyboard: Sshd

beforeAll(async () => {
  ;[keys, passwords, keyboard] = await Promise.all([
    startSshd({
      authorizedKeys: [rsa, ecdsaEncrypted, ed25519, ed25519Encrypted].map(key => key.publicKey)
    }),
    startSshd({ passwordAuthentication: true }),
    startKeyboardInteractiveServer()
  ])
})
afterAll(async () => {
  await stopAllSshd()
})

describe('PKCS8 keys, as openssl genpkey and Terraform write them', () => {
  it.each([
    ['RSA, unencrypted (BEGIN PRIVATE KEY)', rsa, undefined],
    ['ECDSA P-256, encrypted (BEGIN ENCRYPTED PRIVATE KEY)', ecdsaEncrypted, 'ec pass phrase'],
    ['Ed25519, unencrypted', ed25519, undefined],
    ['Ed25519, encrypted', ed25519Encrypted, 'ed pass phrase']
  ])('%s deploys', async (_name, key, passphrase) => {
    expect(key.privateKey).toMatch(/^-----BEGIN (ENCRYPTED )?PRIVATE KEY-----\n/)
    const remote = await makeTestDir()
    const result = await deploy(keys, workspaceWith({ 'a.txt': 'pkcs8' }), remote, {
      'private-key': key.privateKey,
      ...(passphrase ? { passphrase } : {})
    })
    expect(result.log).not.toContain('::error::')
    expect(result.exitCode).toBe(0)
    expect(readRemote(remote, 'current', 'a.txt')).toBe('pkcs8')
    expect(keys.logs()).toContain(`Accepted publickey for ${keys.username}`)
  })

  it('refuses an encrypted PKCS8 key with a wrong or missing passphrase before connecting', async () => {
    const remote = await makeTestDir()
    const before = connectionsTo(keys)
    const wrong = await deploy(keys, workspaceWith({ 'a.txt': '1' }), remote, {
      'private-key': ecdsaEncrypted.privateKey,
      passphrase: 'not the passphrase'
    })
    expect(wrong.exitCode).toBe(1)
    expect(wrong.log).toContain('`passphrase`: does not decrypt the private key')
    const missing = await deploy(keys, workspaceWith({ 'a.txt': '1' }), remote, {
      'private-key': ed25519Encrypted.privateKey
    })
    expect(missing.exitCode).toBe(1)
    expect(missing.log).toContain(
      '`passphrase`: the private key is encrypted (BEGIN ENCRYPTED PRIVATE KEY); give its passphrase'
    )
    expect(connectionsTo(keys)).toBe(before)
    expect(readdirSync(remote)).toEqual([])
  })
})

describe('DSA keys', () => {
  it.each(['openssh', 'pem'] as const)(
    'a DSA key (%s format) is refused in inputs, before connecting, saying why and what to do',
    async format => {
      const remote = await makeTestDir()
      const before = connectionsTo(keys)
      const result = await deploy(keys, workspaceWith({ 'a.txt': '1' }), remote, {
        'private-key': dsaKey(format)
      })
      expect(result.exitCode).toBe(1)
      expect(result.log).toContain('`private-key`: is a DSA (ssh-dss) key')
      expect(result.log).toContain('OpenSSH disabled DSA')
      expect(result.log).toContain('ssh-keygen -t ed25519')
      expect(connectionsTo(keys)).toBe(before)
      expect(readdirSync(remote)).toEqual([])
    }
  )
})

describe('refused logins', () => {
  it('a key the server does not accept: names its type, fingerprint, the user and where the public key goes', async () => {
    const stranger = await makeKeyPair({ type: 'ecdsa' })
    const remote = await makeTestDir()
    const result = await deploy(keys, workspaceWith({ 'a.txt': '1' }), remote, {
      'private-key': stranger.privateKey
    })
    expect(result.exitCode).toBe(1)
    const where = `${keys.username}@127.0.0.1:${keys.port}`
    expect(result.log).toContain(
      `${where} refused the login with the \`private-key\` (its ecdsa-sha2-nistp256 key ${stranger.fingerprint}) for user ${keys.username}.`
    )
    expect(result.log).toContain(`~${keys.username}/.ssh/authorized_keys on 127.0.0.1`)
    expect(result.log).toContain('`ssh-keygen -y -f KEYFILE` prints the line to add')
    expect(readdirSync(remote)).toEqual([])
  })

  it('a wrong password: says the password was refused for user@host, not a word of authorized_keys', async () => {
    const remote = await makeTestDir()
    const result = await deploy(passwords, workspaceWith({ 'a.txt': '1' }), remote, {
      'private-key': '',
      password: 'not-the-password'
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain(
      `${passwords.username}@127.0.0.1:${passwords.port} refused the \`password\` for user ${passwords.username}. Check the \`password\` secret`
    )
    expect(result.log).not.toMatch(/authorized_keys|private-key/)
    expect(readdirSync(remote)).toEqual([])
  })

  it('the right password logs in by the password method', async () => {
    const remote = await makeTestDir()
    const result = await deploy(passwords, workspaceWith({ 'a.txt': 'by password' }), remote, {
      'private-key': '',
      password: passwords.password ?? ''
    })
    expect(result.log).not.toContain('::error::')
    expect(result.exitCode).toBe(0)
    expect(readRemote(remote, 'current', 'a.txt')).toBe('by password')
    expect(passwords.logs()).toContain(`Accepted password for ${passwords.username}`)
  })

  it('a password for a server that takes keys only: says so and asks for a key', async () => {
    const remote = await makeTestDir()
    const result = await deploy(keys, workspaceWith({ 'a.txt': '1' }), remote, {
      'private-key': '',
      password: 'whatever'
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain(
      `${keys.username}@127.0.0.1:${keys.port} does not accept passwords (it offers: publickey). Log in with a \`private-key\``
    )
    expect(readdirSync(remote)).toEqual([])
  })
})

describe('keyboard-interactive only (PAM)', () => {
  it('answers the password prompt with `password` and deploys', async () => {
    const remote = await makeTestDir(keyboard)
    const result = await deploy(keyboard, workspaceWith({ 'a.txt': 'by PAM' }), remote, {
      'private-key': '',
      password: keyboard.password ?? ''
    })
    expect(result.log).not.toContain('::error::')
    expect(result.exitCode).toBe(0)
    expect(readRemote(remote, 'current', 'a.txt')).toBe('by PAM')
    expect(keyboard.logs()).toMatch(
      new RegExp(`Accepted keyboard-interactive/pam for ${keyboard.username}`)
    )
  })

  it('a wrong password there: refused by keyboard-interactive, with no word of authorized_keys', async () => {
    const remote = await makeTestDir(keyboard)
    const result = await deploy(keyboard, workspaceWith({ 'a.txt': '1' }), remote, {
      'private-key': '',
      password: 'not-the-password'
    })
    expect(result.exitCode).toBe(1)
    expect(result.log).toContain(
      `${keyboard.username}@127.0.0.1:${keyboard.port} refused the \`password\` for user ${keyboard.username} (asked by keyboard-interactive)`
    )
    expect(result.log).not.toContain('authorized_keys')
    expect(readdirSync(remote)).toEqual([])
  })
})
