/** PKCS8 keys converted to what ssh2 reads, and the keys refused before connecting. */
import { describe, expect, it } from '@jest/globals'
import { createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto'
import ssh2, { type ParsedKey } from 'ssh2'
import { checkPrivateKey } from '../../src/ssh/keys.js'

function pkcs8(privateKey: KeyObject, passphrase?: string): string {
  return String(
    privateKey.export({
      type: 'pkcs8',
      format: 'pem',
      ...(passphrase === undefined ? {} : { cipher: 'aes-256-cbc', passphrase })
    })
  )
}

function parsed(key: string): ParsedKey {
  const result = ssh2.utils.parseKey(key)
  if (result instanceof Error || Array.isArray(result)) throw new Error('not one key')
  return result
}

const data = Buffer.from('data to sign')

describe('checkPrivateKey with PKCS8 keys', () => {
  it.each([
    ['RSA', 'ssh-rsa', generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['ECDSA P-256', 'ecdsa-sha2-nistp256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['ECDSA P-384', 'ecdsa-sha2-nistp384', generateKeyPairSync('ec', { namedCurve: 'P-384' })],
    ['ECDSA P-521', 'ecdsa-sha2-nistp521', generateKeyPairSync('ec', { namedCurve: 'P-521' })],
    ['Ed25519', 'ssh-ed25519', generateKeyPairSync('ed25519')]
  ])(
    '%s: converted to a key ssh2 reads, with the same public key, that signs',
    (_name, type, pair) => {
      for (const passphrase of [undefined, 'pass phrase']) {
        const checked = checkPrivateKey(pkcs8(pair.privateKey, passphrase), passphrase)
        if (!checked.ok) throw new Error(checked.message)
        const key = parsed(checked.key)
        expect(key.type).toBe(type)
        expect(key.isPrivateKey()).toBe(true)
        expect(createPublicKey(key.getPublicPEM()).export({ type: 'spki', format: 'der' })).toEqual(
          pair.publicKey.export({ type: 'spki', format: 'der' })
        )
        const signature = key.sign(data)
        if (signature instanceof Error) throw signature
        if (type === 'ssh-ed25519') {
          expect(verify(null, data, pair.publicKey, signature)).toBe(true)
        } else {
          // ssh2's signature is in SSH's form; its own verify checks it against the public key.
          expect(key.verify(data, signature)).toBe(true)
        }
      }
    }
  )

  it('Ed25519 comes out in OpenSSH format, the only one ssh2 reads Ed25519 in', () => {
    const checked = checkPrivateKey(pkcs8(generateKeyPairSync('ed25519').privateKey), undefined)
    expect(checked).toMatchObject({
      ok: true,
      key: expect.stringMatching(
        /^-----BEGIN OPENSSH PRIVATE KEY-----\n[\s\S]+\n-----END OPENSSH PRIVATE KEY-----\n$/
      )
    })
  })

  it('an encrypted PKCS8 key: a wrong passphrase and a missing one are `passphrase` errors', () => {
    const encrypted = pkcs8(generateKeyPairSync('ed25519').privateKey, 'right')
    expect(encrypted).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/)
    expect(checkPrivateKey(encrypted, 'wrong')).toMatchObject({
      ok: false,
      input: 'passphrase',
      message: expect.stringContaining('does not decrypt the private key')
    })
    expect(checkPrivateKey(encrypted, undefined)).toMatchObject({
      ok: false,
      input: 'passphrase',
      message: expect.stringContaining('give its passphrase in `passphrase`')
    })
  })

  it('a curve SSH does not use, or a key type it cannot log in with, is named', () => {
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey
    expect(checkPrivateKey(pkcs8(k1), undefined)).toMatchObject({
      ok: false,
      input: 'private-key',
      message: expect.stringContaining('curve secp256k1')
    })
    const ed448 = generateKeyPairSync('ed448').privateKey
    expect(checkPrivateKey(pkcs8(ed448), undefined)).toMatchObject({
      ok: false,
      input: 'private-key',
      message: expect.stringContaining('PKCS8 key of type ed448')
    })
  })

  it('a DSA key in PKCS8 is refused, saying OpenSSH dropped DSA and how to make a new key', () => {
    const dsa = generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 }).privateKey
    expect(checkPrivateKey(pkcs8(dsa), undefined)).toMatchObject({
      ok: false,
      input: 'private-key',
      message: expect.stringMatching(/DSA \(ssh-dss\).*OpenSSH disabled DSA.*ssh-keygen -t ed25519/)
    })
  })

  it('a truncated PKCS8 key cannot be read', () => {
    const text = pkcs8(generateKeyPairSync('ed25519').privateKey)
    const cut = text.slice(0, 40) + '\n-----END PRIVATE KEY-----\n'
    expect(checkPrivateKey(cut, undefined)).toMatchObject({
      ok: false,
      input: 'private-key',
      message: expect.stringContaining('cannot be read as a PKCS8 key')
    })
  })
})
