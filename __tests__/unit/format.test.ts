import { describe, expect, it } from '@jest/globals'
import { formatBytes, formatDuration, plural, shorten } from '../../src/format.js'

describe('formatDuration', () => {
  it.each([
    [0, '0 ms'],
    [999, '999 ms'],
    [999.6, '1.0 s'],
    [1000, '1.0 s'],
    [59_949, '59.9 s'],
    [59_950, '1 min 0 s'],
    [60_000, '1 min 0 s'],
    [119_499, '1 min 59 s'],
    [119_700, '2 min 0 s'],
    [3_599_499, '59 min 59 s'],
    [3_599_600, '1 h 0 min'],
    [3_600_000, '1 h 0 min'],
    [7_199_999, '2 h 0 min'],
    [5_430_000, '1 h 31 min']
  ])('%p ms reads %p', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })
})

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1535, '1.5 KiB'],
    [1_048_063, '1023.5 KiB'],
    [1_048_575, '1.0 MiB'],
    [1_048_576, '1.0 MiB'],
    [1_073_741_823, '1.0 GiB'],
    [5 * 1024 ** 5, '5120.0 TiB']
  ])('%p bytes reads %p', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text)
  })
})

describe('shorten', () => {
  it('keeps text that fits', () => {
    expect(shorten('abc', 3)).toBe('abc')
  })
  it('cuts with an ellipsis within the limit', () => {
    expect(shorten('abcdef', 4)).toBe('abc…')
  })
  it('never splits a surrogate pair', () => {
    const cut = shorten('a😀😀😀', 4)
    expect(cut).toBe('a😀…')
    expect(cut.length).toBeLessThanOrEqual(4)
  })
})

describe('plural', () => {
  it('says 1 file and 2 files', () => {
    expect([plural(1, 'file'), plural(2, 'file'), plural(0, 'host')]).toEqual([
      '1 file',
      '2 files',
      '0 hosts'
    ])
  })
})
