/** Key pairs for the test servers and clients, made by ssh-keygen (OpenSSH format). */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findOnPath, installHint, run } from './proc.js'

export type KeyType = 'ed25519' | 'ecdsa' | 'rsa'

export interface KeyPair {
  /** OpenSSH private key text ("-----BEGIN OPENSSH PRIVATE KEY-----"). */
  readonly privateKey: string
  /** One authorized_keys line: "ssh-ed25519 AAAA... comment". */
  readonly publicKey: string
  /** "SHA256:..." as `ssh-keygen -l` prints it. */
  readonly fingerprint: string
}

export interface KeyPairOptions {
  readonly type?: KeyType
  /** Encrypts the private key with this passphrase. */
  readonly passphrase?: string
  readonly comment?: string
}

export interface HostKeyOptions {
  /** Type of the freshly generated host key (default ed25519); ignored with `hostKey`. */
  readonly hostKeyType?: KeyType
  /** Reuse this unencrypted host private key (OpenSSH format, e.g. another rig's `hostPrivateKey`). */
  readonly hostKey?: string
}

export function assertKeygenInstalled(): void {
  if (findOnPath('ssh-keygen') === undefined) {
    throw new Error(`OpenSSH ssh-keygen not found on PATH. ${installHint('sshd')}`)
  }
}

export async function generateKey(path: string, options: KeyPairOptions): Promise<void> {
  const type = options.type ?? 'ed25519'
  const bits = type === 'rsa' ? ['-b', '2048'] : []
  const comment = options.comment ?? 'gated-deploy-test'
  await run('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...bits,
    '-N',
    options.passphrase ?? '',
    '-C',
    comment,
    '-f',
    path
  ])
}

export async function fingerprintOf(publicKeyPath: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', publicKeyPath])
  const fingerprint = stdout.split(' ')[1]
  if (fingerprint?.startsWith('SHA256:') !== true) {
    throw new Error(`Unexpected ssh-keygen -l output: ${stdout}`)
  }
  return fingerprint
}

export async function readKeyPair(path: string): Promise<KeyPair> {
  const [privateKey, publicKey, fingerprint] = await Promise.all([
    readFile(path, 'utf8'),
    readFile(`${path}.pub`, 'utf8'),
    fingerprintOf(`${path}.pub`)
  ])
  return { privateKey, publicKey: publicKey.trim(), fingerprint }
}

/** A fresh key pair made by ssh-keygen (OpenSSH format), optionally passphrase-protected. */
export async function makeKeyPair(options: KeyPairOptions = {}): Promise<KeyPair> {
  assertKeygenInstalled()
  const dir = await mkdtemp(join(tmpdir(), 'gdtest-key-'))
  try {
    await generateKey(join(dir, 'id'), options)
    return await readKeyPair(join(dir, 'id'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Writes the host key into `path` (0600, as sshd demands) and returns it with its public half. */
export async function prepareHostKey(path: string, options: HostKeyOptions): Promise<KeyPair> {
  if (options.hostKey === undefined) {
    await generateKey(path, {
      type: options.hostKeyType ?? 'ed25519',
      comment: 'gated-deploy-test-host'
    })
  } else {
    const text = options.hostKey.endsWith('\n') ? options.hostKey : `${options.hostKey}\n`
    await writeFile(path, text, { mode: 0o600 })
    const { stdout } = await run('ssh-keygen', ['-y', '-f', path])
    await writeFile(`${path}.pub`, stdout)
  }
  return readKeyPair(path)
}

/** "ssh-ed25519 AAAA... comment" → "ssh-ed25519 AAAA..." */
export function withoutComment(publicKey: string): string {
  return publicKey.split(/\s+/).slice(0, 2).join(' ')
}
