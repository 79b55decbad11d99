/**
 * Logging in with fewer round trips than ssh2 (and OpenSSH's client) take, changing nothing that
 * is sent, only when:
 * - The key's request is signed from the first. ssh2 first asks the server whether it would take
 *   the key (a USERAUTH_REQUEST without a signature, answered by PK_OK), a round trip that only
 *   matters for keys that are expensive to use (an agent, a hardware token). Ours is in memory,
 *   so the signed request goes first, as RFC 4252 §7 allows; a server that refuses the key
 *   answers FAILURE as it would have to the query, and ssh2 goes on as before.
 * - On OpenSSH, the login request follows the request for the login service at once, instead of
 *   waiting for its acceptance: sshd reads them in order and accepts that service always. It goes
 *   when the server's EXT_INFO (sent with its NEWKEYS) has arrived, so an RSA key is offered with
 *   the signature algorithms the server named, as ssh2 would.
 *
 * - On OpenSSH, with a key and no password, the first command's channel may be opened right
 *   behind the signed login request (connect.ts `onLoginSent`): sshd reads in order, and a
 *   refused key ends the connection, so nothing waits for an answer that cannot come.
 *
 * ssh2 has no options for these: they wrap methods of the connection's protocol object (ssh2 1.x
 * internals, checked at run time; anything unexpected leaves the connection as ssh2 made it). The
 * e2e tests count sshd's "Postponed publickey" lines, so a change in ssh2 shows.
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

/** ssh2's protocol object of a connection, once it exists. */
function protocolOf(client: unknown): object | undefined {
  if (typeof client !== 'object' || client === null || !('_protocol' in client)) return undefined
  const protocol: unknown = client._protocol
  return typeof protocol === 'object' && protocol !== null ? protocol : undefined
}

/**
 * Makes the connection's public-key requests signed from the first: called from the auth
 * handler, when ssh2's protocol object exists. Returns whether it could.
 */
export function signAtOnce(client: unknown): boolean {
  const protocol = protocolOf(client)
  if (!protocol) return false
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

/** Whether the server's version line (which ssh2 keeps to itself) names OpenSSH. */
export function isOpenSsh(client: unknown): boolean {
  const software =
    typeof client === 'object' && client !== null && '_remoteVer' in client
      ? client._remoteVer
      : undefined
  return typeof software === 'string' && /^OpenSSH_/.test(software)
}

type Handler = (protocol: unknown, ...rest: unknown[]) => void

const hurried = new WeakSet<object>()

/**
 * On an OpenSSH server, starts the login as soon as the server's EXT_INFO arrives, and ignores
 * the SERVICE_ACCEPT that follows (ssh2 would start the login again on it). Called during the
 * key exchange (from the host-key check), when ssh2's protocol object exists and the server's
 * version line has been read. Returns whether it did.
 */
export function loginWithoutWaiting(client: unknown): boolean {
  const protocol = protocolOf(client)
  if (!protocol || hurried.has(protocol)) return false
  if (!isOpenSsh(client)) return false
  if (!('_handlers' in protocol)) return false
  const handlers: unknown = protocol._handlers
  if (typeof handlers !== 'object' || handlers === null) return false
  if (!('SERVICE_ACCEPT' in handlers) || !('EXT_INFO' in handlers)) return false
  const accept = handlers.SERVICE_ACCEPT
  const extensions = handlers.EXT_INFO
  if (typeof accept !== 'function' || typeof extensions !== 'function') return false
  const table = handlers as { SERVICE_ACCEPT: Handler; EXT_INFO: Handler }
  let started = false
  table.EXT_INFO = (self, ...rest) => {
    ;(extensions as Handler)(self, ...rest)
    if (started) return
    started = true
    ;(accept as Handler)(self, 'ssh-userauth')
  }
  table.SERVICE_ACCEPT = (self, name, ...rest) => {
    if (started && name === 'ssh-userauth') return
    ;(accept as Handler)(self, name, ...rest)
  }
  hurried.add(protocol)
  return true
}
