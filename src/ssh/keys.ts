/**
 * Private key checks done while reading inputs, so a bad key fails before any connection;
 * PKCS8 keys (which ssh2 cannot read) are converted here to a format it reads.
 */
import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto'
import ssh2, { type ParsedKey } from 'ssh2'
import type { InputName } from '../action-io.js'

export type KeyCheck =
  | { readonly ok: true; readonly key: string }
  | { readonly ok: false; readonly input: InputName; readonly message: string }

type Failure = Extract<KeyCheck, { ok: false }>

/** The first key of a key file (ssh2 returns an array for a file with several), or the error. */
export function parsePrivateKey(
  text: string,
  passphrase: string | undefined
): ParsedKey | Error | undefined {
  const parsed = ssh2.utils.parseKey(text, passphrase)
  // A key file with several keys parses to an array at run time, whatever the types say.
  return Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed
}

const NEW_KEY =
  'Make a new key with `ssh-keygen -t ed25519 -f deploy_key -N ""`, add deploy_key.pub to ~/.ssh/authorized_keys of the deploy user on each server, and put the contents of deploy_key in the `private-key` secret.'

const DSA_REFUSED: Failure = {
  ok: false,
  input: 'private-key',
  message: `is a DSA (ssh-dss) key, which SSH servers refuse: OpenSSH disabled DSA in 7.0 (2015) and removed it in 9.8. ${NEW_KEY}`
}

/** An SSH wire-format string: uint32 length, then the bytes. */
function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  const length = Buffer.alloc(4)
  length.writeUInt32BE(bytes.length)
  return Buffer.concat([length, bytes])
}

/**
 * An Ed25519 key in OpenSSH's own format ("openssh-key-v1", unencrypted), the only one ssh2
 * reads Ed25519 private keys in (PROTOCOL.key in OpenSSH's sources).
 */
function opensshEd25519(key: KeyObject): string | undefined {
  const jwk = key.export({ format: 'jwk' })
  if (jwk.d === undefined || jwk.x === undefined) return undefined
  const seed = Buffer.from(jwk.d, 'base64url')
  const pub = Buffer.from(jwk.x, 'base64url')
  const type = 'ssh-ed25519'
  const publicBlob = Buffer.concat([sshString(type), sshString(pub)])
  const check = randomBytes(4)
  const unpadded = Buffer.concat([
    check,
    check,
    sshString(type),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString('')
  ])
  const padding = Buffer.from(
    Array.from({ length: (8 - (unpadded.length % 8)) % 8 }, (_, i) => i + 1)
  )
  const count = Buffer.alloc(4)
  count.writeUInt32BE(1)
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    count,
    sshString(publicBlob),
    sshString(Buffer.concat([unpadded, padding]))
  ])
  const lines = body.toString('base64').match(/.{1,70}/g) ?? []
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`
}

const SSH_CURVES = ['prime256v1', 'secp384r1', 'secp521r1']

/**
 * A PKCS8 key (`BEGIN PRIVATE KEY`, or `BEGIN ENCRYPTED PRIVATE KEY` with `passphrase`), as
 * `openssl genpkey` and Terraform's `private_key_pem_pkcs8` write them, decrypted by Node's
 * crypto and written as ssh2 reads it: RSA as PKCS1, ECDSA as SEC1, Ed25519 as OpenSSH.
 */
function fromPkcs8(pem: string, passphrase: string | undefined): KeyCheck {
  const encrypted = pem.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----')
  if (encrypted && passphrase === undefined) {
    return {
      ok: false,
      input: 'passphrase',
      message:
        'the private key is encrypted (BEGIN ENCRYPTED PRIVATE KEY); give its passphrase in `passphrase`.'
    }
  }
  let key: KeyObject
  try {
    key = createPrivateKey({
      key: pem,
      format: 'pem',
      ...(encrypted && passphrase !== undefined ? { passphrase } : {})
    })
  } catch (error: unknown) {
    if (encrypted) {
      return {
        ok: false,
        input: 'passphrase',
        message:
          'does not decrypt the private key (BEGIN ENCRYPTED PRIVATE KEY): wrong passphrase? Check the `passphrase` secret against the one the key was made with.'
      }
    }
    const reason = error instanceof Error ? error.message : 'unreadable'
    return {
      ok: false,
      input: 'private-key',
      message: `cannot be read as a PKCS8 key (${reason}). Check that the whole key was pasted, with its BEGIN and END lines and nothing cut.`
    }
  }
  const type = key.asymmetricKeyType
  if (type === 'rsa') {
    return { ok: true, key: String(key.export({ type: 'pkcs1', format: 'pem' })) }
  }
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown'
    if (SSH_CURVES.includes(curve)) {
      return { ok: true, key: String(key.export({ type: 'sec1', format: 'pem' })) }
    }
    return {
      ok: false,
      input: 'private-key',
      message: `is an EC key on curve ${curve}, which SSH does not use (only P-256, P-384 and P-521). ${NEW_KEY}`
    }
  }
  if (type === 'ed25519') {
    const text = opensshEd25519(key)
    if (text !== undefined) return { ok: true, key: text }
  }
  if (type === 'dsa') return DSA_REFUSED
  return {
    ok: false,
    input: 'private-key',
    message: `is a PKCS8 key of type ${type ?? 'unknown'}, which SSH cannot log in with (RSA, ECDSA and Ed25519 work). ${NEW_KEY}`
  }
}

/**
 * Normalises line endings and the trailing newline (a key pasted into a secret often loses it,
 * which OpenSSH rejects), converts PKCS8, then parses the key with the given passphrase.
 */
export function checkPrivateKey(raw: string, passphrase: string | undefined): KeyCheck {
  let key = raw.replace(/\r\n?/g, '\n').trim() + '\n'
  const fail = (input: InputName, message: string): KeyCheck => ({ ok: false, input, message })
  if (/^(ssh-|ecdsa-|sk-)/.test(key)) {
    return fail(
      'private-key',
      'this is a public key (one line starting with ssh-…). Give the private key file, e.g. the contents of ~/.ssh/id_ed25519, not id_ed25519.pub.'
    )
  }
  if (!key.startsWith('-----BEGIN ')) {
    return fail(
      'private-key',
      'does not look like a private key: expected the whole key file, from "-----BEGIN … PRIVATE KEY-----" to "-----END … PRIVATE KEY-----".'
    )
  }
  if (/^-----BEGIN (ENCRYPTED )?PRIVATE KEY-----\n/.test(key)) {
    const converted = fromPkcs8(key, passphrase)
    if (!converted.ok) return converted
    key = converted.key
  }
  const parsed = parsePrivateKey(key, passphrase)
  if (parsed instanceof Error) {
    const message = parsed.message
    if (/no passphrase given/i.test(message)) {
      return fail(
        'passphrase',
        'the private key is encrypted; give its passphrase in `passphrase`.'
      )
    }
    if (/passphrase/i.test(message)) {
      return fail('passphrase', 'does not decrypt the private key (wrong passphrase?).')
    }
    return fail(
      'private-key',
      `cannot be read (${message}). Check that the whole key was pasted, with its BEGIN and END lines and nothing cut.`
    )
  }
  if (parsed === undefined || !parsed.isPrivateKey()) {
    return fail('private-key', 'holds no private key.')
  }
  if (parsed.type === 'ssh-dss') return DSA_REFUSED
  return { ok: true, key }
}
