/**
 * Public-key login in one round trip. ssh2 first asks the server whether it would take the key
 * (a USERAUTH_REQUEST without a signature, answered by PK_OK), then sends the signed request: a
 * round trip that only matters for keys that are expensive to use (an agent, a hardware token).
 * Ours is in memory, so the signed request goes first, as RFC 4252 §7 allows; a server that
 * refuses the key answers FAILURE as it would have to the query, and ssh2 goes on as before.
 *
 * ssh2 has no option for it: this wraps `authPK` on the connection's protocol object (ssh2
 * 1.x internals, checked at run time; anything unexpected leaves the connection untouched).
 */

/** The hash ssh2 signs with for each RSA signature algorithm (others sign with their own). */
const RSA_HASHES: Readonly<Record<string, string>> = {
  'rsa-sha2-512': 'sha512',
  'rsa-sha2-256': 'sha256',
  'ssh-rsa': 'sha1'
}

type Sign = (data: Buffer, done: (signature: Buffer) => void) => void
type AuthPK = (user: string, key: unknown, algorithm?: unknown, sign?: Sign) => void

interface SigningKey {
  sign(data: Buffer, hash?: string): Buffer | Error
  isPrivateKey(): boolean
}

function isSigningKey(key: unknown): key is SigningKey {
  return (
    typeof key === 'object' &&
    key !== null &&
    'sign' in key &&
    typeof key.sign === 'function' &&
    'isPrivateKey' in key &&
    typeof key.isPrivateKey === 'function'
  )
}

const patched = new WeakSet<object>()

/**
 * Makes the connection's public-key requests signed from the first: called from the auth
 * handler, when ssh2's protocol object exists. Returns whether it could.
 */
export function signAtOnce(client: unknown): boolean {
  if (typeof client !== 'object' || client === null || !('_protocol' in client)) return false
  const protocol: unknown = client._protocol
  if (typeof protocol !== 'object' || protocol === null) return false
  if (patched.has(protocol)) return true
  if (!('authPK' in protocol) || typeof protocol.authPK !== 'function') return false
  const original = protocol.authPK as AuthPK
  const target = protocol as { authPK: AuthPK }
  target.authPK = function (this: unknown, user, key, algorithm, sign): void {
    if (sign === undefined && typeof algorithm !== 'function' && isSigningKey(key)) {
      if (key.isPrivateKey()) {
        const hash = typeof algorithm === 'string' ? RSA_HASHES[algorithm] : undefined
        const signer: Sign = (data, done) => {
          const signature = key.sign(data, hash)
          if (signature instanceof Error) throw signature
          done(signature)
        }
        original.call(this, user, key, algorithm, signer)
        return
      }
    }
    original.call(this, user, key, algorithm, sign)
  }
  patched.add(protocol)
  return true
}
