/** Parsing what the staging exec prints: the listing, then the hashes of both kinds. */
import { describe, expect, it } from '@jest/globals'
import { earlyHashList, parseListing } from '../../src/deploy/stage/listing.js'
import { MARK } from '../../src/deploy/program.js'

const hex = (c: string): string => c.repeat(64)

describe('parseListing', () => {
  it('reads files, dirs, symlinks and both kinds of hash records', () => {
    const out = Buffer.from(
      [
        'd 755 assets\0',
        'f 644 assets/a.js\0',
        'f 755 odd\nname\0',
        'l 0 latest\0assets/a.js\0',
        `${MARK.GD_HASHES}\0`,
        `${hex('a')} *./assets/a.js\n`,
        `${hex('b')}  ./odd\nname\0`
      ].join('')
    )
    const listing = parseListing(out)
    expect([...listing.entries.keys()]).toEqual(['assets', 'assets/a.js', 'odd\nname', 'latest'])
    expect(listing.entries.get('latest')).toEqual({ type: 'l', mode: '0', target: 'assets/a.js' })
    expect(listing.hashes).toEqual(
      new Map([
        ['assets/a.js', hex('a')],
        ['odd\nname', hex('b')]
      ])
    )
  })

  it('does not take a symlink pointing at a file named like the marker for the marker', () => {
    const out = Buffer.from(
      [
        'l 0 trap\0',
        `${MARK.GD_HASHES}\0`,
        'f 644 a\0',
        `${MARK.GD_HASHES}\0`,
        `${hex('a')} *./a\n`
      ].join('')
    )
    const listing = parseListing(out)
    expect(listing.entries.get('trap')).toEqual({ type: 'l', mode: '0', target: MARK.GD_HASHES })
    expect(listing.entries.get('a')).toEqual({ type: 'f', mode: '644' })
    expect(listing.hashes.get('a')).toBe(hex('a'))
  })

  it('stops at garbage in the hash section, leaving those files without a hash', () => {
    const out = Buffer.from(
      ['f 644 a\0', 'f 644 b\0', `${MARK.GD_HASHES}\0`, `${hex('a')} *./a\n`, 'not a hash\n'].join(
        ''
      )
    )
    const listing = parseListing(out)
    expect(listing.hashes.get('a')).toBe(hex('a'))
    expect(listing.hashes.has('b')).toBe(false)
  })
})

describe('earlyHashList', () => {
  const file = (p: string, size: number) => ({ type: 'file', path: p, mode: 0o644, size }) as const
  const BIG = 2 << 20 // 2 MiB is 4096 blocks: not over the threshold
  it('lists the files over 2 MiB by the member count that completes them, the reused ones at 0', () => {
    const send = [
      { type: 'dir', path: 'd', mode: 0o755 } as const,
      file('d/a', BIG + 1),
      file('b', BIG)
    ]
    expect(earlyHashList(send, [file('r', BIG + 1), file('s', 10)])).toBe('0 r\n3 d/a\n')
  })
  it('lists nothing when no big file travels, and never a name with a newline or backslash', () => {
    expect(earlyHashList([file('small', 10)], [file('r', BIG + 1)])).toBe('')
    expect(earlyHashList([file('new\nline', BIG + 1), file('back\\slash', BIG + 1)], [])).toBe('')
  })
})
