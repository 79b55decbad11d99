/** Host key pinning: the decisions that keep a deploy from talking to the wrong server. */
import { describe, expect, it } from '@jest/globals'
import { createHmac, randomBytes } from 'node:crypto'
import {
  fingerprintOf,
  parseHostKeyPins,
  pinnedKeyAlgorithms,
  verifyHostKey
} from '../../src/ssh/host-keys.js'

/** A syntactically valid ssh-ed25519 public key blob. */
function ed25519Key(): Buffer {
  const type = Buffer.from('ssh-ed25519')
  const body = randomBytes(32)
  const out = Buffer.alloc(4 + type.length + 4 + body.length)
  out.writeUInt32BE(type.length, 0)
  type.copy(out, 4)
  out.writeUInt32BE(body.length, 4 + type.length)
  body.copy(out, 8 + type.length)
  return out
}

function hashedName(name: string): string {
  const salt = randomBytes(20)
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`
}

const key = ed25519Key()
const other = ed25519Key()
const line = (hosts: string, k = key): string => `${hosts} ssh-ed25519 ${k.toString('base64')}`
const target = { host: 'web1.example.com', port: 22 }

describe('verifyHostKey', () => {
  it.each([
    ['a plain name', line('web1.example.com')],
    ['one of a comma list', line('db.example.com,web1.example.com,10.0.0.5')],
    ['a wildcard', line('*.example.com')],
    ['a hashed name', line(hashedName('web1.example.com'))],
    ['a bare key (any host)', `ssh-ed25519 ${key.toString('base64')}`],
    ['a SHA256 fingerprint', fingerprintOf(key)]
  ])('accepts the key pinned by %s', (_name, text) => {
    const { pins, problems } = parseHostKeyPins(text)
    expect(problems).toEqual([])
    expect(verifyHostKey(pins, target, key)).toEqual({ ok: true })
  })

  it('uses [host]:port off port 22 and does not confuse ports', () => {
    const { pins } = parseHostKeyPins(line('[web1.example.com]:2222'))
    expect(verifyHostKey(pins, { host: 'web1.example.com', port: 2222 }, key).ok).toBe(true)
    expect(verifyHostKey(pins, target, key)).toMatchObject({ ok: false, reason: 'unknown' })
  })

  it('calls a different key for a pinned host a change, naming the new fingerprint and the line to pin', () => {
    const { pins } = parseHostKeyPins(line('web1.example.com', other))
    const verdict = verifyHostKey(pins, target, key)
    expect(verdict).toMatchObject({ ok: false, reason: 'changed' })
    expect(verdict.ok ? '' : verdict.message).toContain(fingerprintOf(key))
    expect(verdict.ok ? '' : verdict.message).toContain(line('web1.example.com'))
  })

  it('refuses a key marked @revoked even when another line pins it', () => {
    const { pins } = parseHostKeyPins(`${line('web1.example.com')}\n@revoked ${line('*')}`)
    expect(verifyHostKey(pins, target, key)).toMatchObject({ ok: false, reason: 'revoked' })
  })

  it('honours a negated pattern', () => {
    const { pins } = parseHostKeyPins(line('*.example.com,!web1.example.com'))
    expect(verifyHostKey(pins, target, key)).toMatchObject({ ok: false, reason: 'unknown' })
  })

  it('reports lines it cannot read, by number', () => {
    const { problems } = parseHostKeyPins(
      `# comment\n\n${line('a')}\nnot a key\nhost ssh-ed25519 !!!`
    )
    expect(problems).toHaveLength(2)
    expect(problems[0]).toMatch(/^line 4 /)
    expect(problems[1]).toMatch(/^line 5 /)
  })
})

describe('pinnedKeyAlgorithms', () => {
  it('asks the server for the pinned key types, with the RSA signature variants', () => {
    const rsa = `web1.example.com ssh-rsa ${Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from('ssh-rsa'), randomBytes(40)]).toString('base64')}`
    const { pins } = parseHostKeyPins(`${line('web1.example.com')}\n${rsa}`)
    expect(pinnedKeyAlgorithms(pins, target)).toEqual([
      'ssh-ed25519',
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa'
    ])
  })

  it('lets the server choose when only fingerprints are pinned', () => {
    expect(pinnedKeyAlgorithms(parseHostKeyPins(fingerprintOf(key)).pins, target)).toBeUndefined()
  })
})
