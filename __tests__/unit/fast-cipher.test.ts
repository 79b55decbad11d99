/**
 * src/ssh/fast-cipher.ts: what the leaner AES-GCM packet path writes must be what ssh2's own
 * decipher (as sshd does) reads back: every payload, in order, at every size (an empty one, one
 * past the kept buffer), with two packets built before either is sent.
 */
import { describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { fastCipher } from '../../src/ssh/fast-cipher.js'

interface Cipher {
  allocPacket(payloadLength: number): Buffer
  encrypt(packet: Buffer): void
}
interface SshCrypto {
  CIPHER_INFO: Record<string, { keyLen: number; ivLen: number }>
  MAC_INFO: Record<string, unknown>
  createCipher(config: unknown): Cipher
  createDecipher(config: unknown): { decrypt(data: Buffer, p: number, length: number): void }
}
const sshCrypto = createRequire(import.meta.url)('ssh2/lib/protocol/crypto.js') as SshCrypto

/** A cipher and the decipher of the other end, with the same keys. */
function pair(name: string): { cipher: Cipher; received: Buffer[]; feed: () => void } {
  const info = sshCrypto.CIPHER_INFO[name]
  if (!info) throw new Error(`ssh2 has no ${name}`)
  const mac = name.endsWith('-ctr')
    ? { macInfo: sshCrypto.MAC_INFO['hmac-sha2-256'], macKey: randomBytes(32) }
    : { macInfo: { actualLen: 0 }, macKey: null }
  const key = randomBytes(info.keyLen)
  const iv = randomBytes(info.ivLen)
  const wire: Buffer[] = []
  const received: Buffer[] = []
  const cipher = sshCrypto.createCipher({
    outbound: {
      onWrite: (data: Buffer) => wire.push(Buffer.from(data)),
      cipherInfo: info,
      cipherKey: Buffer.from(key),
      cipherIV: Buffer.from(iv),
      seqno: 0,
      ...mac,
      forceNative: true
    }
  })
  const decipher = sshCrypto.createDecipher({
    inbound: {
      // ssh2 stops at a payload whose handler returns anything.
      onPayload: (payload: Buffer): undefined => {
        received.push(Buffer.from(payload))
      },
      decipherInfo: info,
      decipherKey: Buffer.from(key),
      decipherIV: Buffer.from(iv),
      seqno: 0,
      ...mac,
      forceNative: true
    }
  })
  const feed = (): void => {
    const data = Buffer.concat(wire.splice(0))
    decipher.decrypt(data, 0, data.length)
  }
  return { cipher, received, feed }
}

function send(cipher: Cipher, payload: Buffer): void {
  const packet = cipher.allocPacket(payload.length)
  payload.copy(packet, 5)
  cipher.encrypt(packet)
}

describe('fastCipher', () => {
  for (const name of ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com']) {
    it(`${name}: ssh2's decipher reads back every payload, in order`, () => {
      const { cipher, received, feed } = pair(name)
      expect(fastCipher({ _protocol: { _cipher: cipher } })).toBe(true)
      // 34 KiB of payload is a packet just past the kept buffer (and within what ssh2 reads).
      const payloads = [0, 1, 15, 16, 100, 32768 + 9, 34 * 1024, 3].map(n => randomBytes(n))
      for (const payload of payloads) send(cipher, payload)
      // Two packets built before either goes: the second may not share the first's buffer.
      const a = randomBytes(1000)
      const b = randomBytes(2000)
      const packetA = cipher.allocPacket(a.length)
      a.copy(packetA, 5)
      const packetB = cipher.allocPacket(b.length)
      b.copy(packetB, 5)
      cipher.encrypt(packetA)
      cipher.encrypt(packetB)
      feed()
      expect(received).toEqual([...payloads, a, b])
    })
  }

  it('builds each packet in the buffer it keeps, padded with fresh random bytes', () => {
    const { cipher } = pair('aes128-gcm@openssh.com')
    fastCipher({ _protocol: { _cipher: cipher } })
    const first = cipher.allocPacket(10)
    const padding = Buffer.from(first.subarray(15))
    cipher.encrypt(first)
    const second = cipher.allocPacket(10)
    expect(second.subarray(15).equals(padding)).toBe(false)
    // Built in the buffer the cipher keeps, not a new one.
    expect(second.buffer).toBe(first.buffer)
    expect(padding.length).toBeGreaterThanOrEqual(4)
  })

  it('leaves any other cipher as ssh2 made it', () => {
    const { cipher } = pair('aes128-ctr')
    const prototype = Object.getPrototypeOf(cipher) as Record<string, unknown>
    const encrypt = prototype.encrypt
    expect(fastCipher({ _protocol: { _cipher: cipher } })).toBe(false)
    expect(prototype.encrypt).toBe(encrypt)
    expect(fastCipher({})).toBe(false)
    expect(fastCipher({ _protocol: {} })).toBe(false)
  })
})
