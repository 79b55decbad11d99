/**
 * Sending with less CPU per SSH packet than ssh2's own AES-GCM path, the same bytes on the wire:
 * on a big upload the runner's CPU (shared, on a small runner, with tar and the hashing) decides
 * the speed, and ssh2 spends it per 32 KB packet, not per byte.
 * - The padding's random bytes come from a pool filled 4 KB at a time, not one `randomFillSync`
 *   call per packet (~11 µs each, 0.18 s of 500 MB). They are as random: each pool byte is used
 *   once.
 * - The plaintext packet is built in one buffer kept by the cipher, not a new 32 KB buffer per
 *   packet: the encryption copies it out at once, and half the garbage the collector sweeps
 *   during an upload is gone.
 *
 * ssh2 has no option for this: it replaces two methods of its AES-GCM cipher class (ssh2 1.x
 * internals, checked at run time; anything unexpected leaves ssh2's own path). The unit test
 * decrypts what the replacement writes with ssh2's own decipher.
 */
import { createCipheriv, randomFillSync } from 'node:crypto'

/** What the replacement needs of ssh2's AESGCMCipherNative (lib/protocol/crypto.js). */
interface GcmCipher {
  _encSSLName: string
  _encKey: Buffer
  _encIV: Buffer
  _onWrite: (data: Buffer) => void
  _dead: boolean
  outSeqno: number
  /** Ours: the plaintext buffer, and whether a packet built in it awaits encryption. */
  _gdScratch?: Buffer
  _gdScratchBusy?: boolean
}

const GCM_NAMES = new Set(['aes-128-gcm', 'aes-256-gcm'])

/** The largest packet built in the kept buffer: 32 KB of channel data and its headers. */
const SCRATCH_BYTES = 34 * 1024

const POOL_BYTES = 4096
let pool = Buffer.alloc(0)
let poolAt = 0

/** `length` random bytes into `target` at `offset`, from the pool. */
function randomPadding(target: Buffer, offset: number, length: number): void {
  if (poolAt + length > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES))
    poolAt = 0
  }
  pool.copy(target, offset, poolAt, poolAt + length)
  poolAt += length
}

function isGcmCipher(cipher: unknown): cipher is GcmCipher {
  if (typeof cipher !== 'object' || cipher === null) return false
  const c = cipher as Partial<Record<keyof GcmCipher, unknown>>
  return (
    typeof c._encSSLName === 'string' &&
    GCM_NAMES.has(c._encSSLName) &&
    Buffer.isBuffer(c._encKey) &&
    Buffer.isBuffer(c._encIV) &&
    c._encIV.length === 12 &&
    typeof c._onWrite === 'function' &&
    typeof c._dead === 'boolean' &&
    typeof c.outSeqno === 'number'
  )
}

/** SSH's GCM nonce (RFC 5647 §7.1): the last 8 bytes count packets, big-endian. */
function nextNonce(iv: Buffer): void {
  for (let i = 11; i >= 4; i--) {
    iv[i] = (iv[i]! + 1) & 0xff
    if (iv[i] !== 0) break
  }
}

function allocPacket(this: GcmCipher, payloadLength: number): Buffer {
  let length = 4 + 1 + payloadLength
  let padding = 16 - ((length - 4) & 15)
  if (padding < 4) padding += 16
  length += padding
  let packet: Buffer
  if (!this._gdScratchBusy && length <= SCRATCH_BYTES) {
    this._gdScratch ??= Buffer.allocUnsafe(SCRATCH_BYTES)
    this._gdScratchBusy = true
    packet = this._gdScratch.subarray(0, length)
  } else {
    packet = Buffer.allocUnsafe(length)
  }
  packet.writeUInt32BE(length - 4, 0)
  packet[4] = padding
  randomPadding(packet, 5 + payloadLength, padding)
  return packet
}

function encrypt(this: GcmCipher, packet: Buffer): void {
  if (this._gdScratch && packet.buffer === this._gdScratch.buffer) this._gdScratchBusy = false
  if (this._dead) return
  const cipher = createCipheriv(this._encSSLName as 'aes-128-gcm', this._encKey, this._encIV)
  // The length leaves in a copy: the kept buffer is rebuilt before the socket sends it.
  const length = Buffer.from(packet.subarray(0, 4))
  cipher.setAAD(length)
  this._onWrite(length)
  this._onWrite(cipher.update(packet.subarray(4)))
  cipher.final()
  this._onWrite(cipher.getAuthTag())
  nextNonce(this._encIV)
  this.outSeqno = (this.outSeqno + 1) >>> 0
}

const patched = new WeakSet<object>()

/**
 * Gives the connection's outbound AES-GCM cipher the leaner packet path (every instance of its
 * class: a rekey makes a new one). Call once the handshake is done. Returns whether it could.
 */
export function fastCipher(client: unknown): boolean {
  if (typeof client !== 'object' || client === null || !('_protocol' in client)) return false
  const protocol: unknown = client._protocol
  if (typeof protocol !== 'object' || protocol === null || !('_cipher' in protocol)) return false
  const cipher: unknown = protocol._cipher
  if (!isGcmCipher(cipher)) return false
  const proto: unknown = Object.getPrototypeOf(cipher)
  if (typeof proto !== 'object' || proto === null) return false
  if (patched.has(proto)) return true
  if (
    proto.constructor.name !== 'AESGCMCipherNative' ||
    !('allocPacket' in proto) ||
    typeof proto.allocPacket !== 'function' ||
    !('encrypt' in proto) ||
    typeof proto.encrypt !== 'function'
  ) {
    return false
  }
  Object.assign(proto, { allocPacket, encrypt })
  patched.add(proto)
  return true
}
