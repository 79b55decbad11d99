/**
 * The little of the tar format the upload writes itself: a GNU header for a regular file (with
 * the GNU long-name member ahead of it when the path does not fit in 100 bytes), and finding
 * where an archive's end-of-archive blocks begin in a stream, so more members can follow the
 * ones the system tar wrote.
 */

export const BLOCK = 512

/** Bytes of padding after `size` bytes of member data. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK
}

/** A numeric field: octal with a NUL, or GNU's base-256 when the octal digits do not fit. */
function writeNumber(header: Buffer, offset: number, length: number, value: number): void {
  const octal = value.toString(8)
  if (octal.length <= length - 1) {
    header.write(octal.padStart(length - 1, '0') + '\0', offset, 'ascii')
    return
  }
  header[offset] = 0x80
  let rest = BigInt(value)
  for (let i = offset + length - 1; i > offset; i--) {
    header[i] = Number(rest & 0xffn)
    rest >>= 8n
  }
}

function headerBlock(
  name: Buffer,
  fields: { mode: number; size: number; mtime: number; type: string }
): Buffer {
  const header = Buffer.alloc(BLOCK)
  name.copy(header, 0, 0, Math.min(name.length, 100))
  writeNumber(header, 100, 8, fields.mode & 0o7777)
  writeNumber(header, 108, 8, 0)
  writeNumber(header, 116, 8, 0)
  writeNumber(header, 124, 12, fields.size)
  writeNumber(header, 136, 12, Math.max(0, Math.floor(fields.mtime)))
  header.write(fields.type, 156, 'ascii')
  // GNU's magic and version: "ustar  \0".
  header.write('ustar  \0', 257, 'ascii')
  header.fill(0x20, 148, 156)
  let sum = 0
  for (const byte of header) sum += byte
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii')
  return header
}

/**
 * The header of a regular file at `path` (relative, `/`-separated): one block, or three when
 * the path is longer than 100 bytes (GNU tar's `././@LongLink` member, as `--format=gnu` writes).
 * Owner 0:0; the servers' tars extract with `--no-same-owner` or as the login user.
 */
export function fileHeader(
  path: string,
  stat: { mode: number; size: number; mtime: number }
): Buffer {
  const name = Buffer.from(path, 'utf8')
  const header = headerBlock(name, { ...stat, type: '0' })
  if (name.length <= 100) return header
  const longName = Buffer.concat([name, Buffer.alloc(1)])
  return Buffer.concat([
    headerBlock(Buffer.from('././@LongLink'), {
      mode: 0o644,
      size: longName.length,
      mtime: 0,
      type: 'L'
    }),
    longName,
    Buffer.alloc(padding(longName.length)),
    header
  ])
}

function readNumber(block: Buffer, offset: number, length: number): number {
  if (block[offset]! & 0x80) {
    let value = 0n
    for (let i = offset + 1; i < offset + length; i++) value = (value << 8n) | BigInt(block[i]!)
    return Number(value)
  }
  const text = block.toString('ascii', offset, offset + length).replace(/[\0 ]+$/, '')
  const value = Number.parseInt(text.trim() || '0', 8)
  if (!Number.isFinite(value))
    throw new Error(`tar: a header has a size that is not a number (${text})`)
  return value
}

/**
 * Follows a tar stream member by member, passing it on up to where its end-of-archive blocks
 * begin: `take` returns the pieces of each chunk that belong to the members (none from the end
 * on; a header split across chunks is held back until it is whole); `ended` says whether the
 * end was seen.
 */
export class ArchiveEnd {
  /** Bytes of the stream until the next header. */
  private skip = 0
  /** The start of a header whose chunk ended before it did. */
  private held: Buffer[] = []
  private heldBytes = 0
  ended = false

  take(chunk: Buffer): Buffer[] {
    if (this.ended) return []
    const out: Buffer[] = []
    let at = 0
    while (at < chunk.length) {
      if (this.skip > 0) {
        const step = Math.min(this.skip, chunk.length - at)
        this.skip -= step
        at += step
        continue
      }
      const want = BLOCK - this.heldBytes
      const piece = chunk.subarray(at, at + want)
      if (piece.length < want) {
        out.push(chunk.subarray(0, at))
        this.held.push(piece)
        this.heldBytes += piece.length
        return out.filter(b => b.length > 0)
      }
      const header = this.heldBytes > 0 ? Buffer.concat([...this.held, piece]) : piece
      if (header.every(byte => byte === 0)) {
        this.ended = true
        out.push(chunk.subarray(0, at))
        return out.filter(b => b.length > 0)
      }
      // Held bytes only ever begin a chunk's first header: they go out ahead of all of it.
      out.push(...this.held)
      this.held = []
      this.heldBytes = 0
      const size = readNumber(header, 124, 12)
      this.skip = size + padding(size)
      at += want
    }
    out.push(chunk)
    return out.filter(b => b.length > 0)
  }
}
