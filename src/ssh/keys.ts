/** Private key checks done while reading inputs, so a bad key fails before any connection. */
import ssh2, { type ParsedKey } from 'ssh2'
import type { InputName } from '../action-io.js'

export type KeyCheck =
  | { readonly ok: true; readonly key: string }
  | { readonly ok: false; readonly input: InputName; readonly message: string }

/**
 * Normalises line endings and the trailing newline (a key pasted into a secret often loses it,
 * which OpenSSH rejects), then parses the key with the given passphrase.
 */
export function checkPrivateKey(raw: string, passphrase: string | undefined): KeyCheck {
  const key = raw.replace(/\r\n?/g, '\n').trim() + '\n'
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
  const parsed = ssh2.utils.parseKey(key, passphrase)
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
  // A key file with several keys parses to an array at run time, whatever the types say.
  const first: ParsedKey | undefined = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed
  if (first === undefined || !first.isPrivateKey()) {
    return fail('private-key', 'holds no private key.')
  }
  return { ok: true, key }
}
