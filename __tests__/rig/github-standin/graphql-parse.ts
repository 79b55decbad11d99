/**
 * A small GraphQL query parser for the stand-in: one operation (`query Name($v: T) { … }` or an
 * anonymous `{ … }`), fields with aliases, arguments and selection sets; values are variables,
 * strings, numbers, booleans, null, enums, lists and objects. Fragments, directives and mutations
 * are refused: the code under test does not send them.
 */

export type Value =
  | { readonly kind: 'variable'; readonly name: string }
  | { readonly kind: 'literal'; readonly value: unknown }
  | { readonly kind: 'enum'; readonly name: string }
  | { readonly kind: 'list'; readonly items: readonly Value[] }
  | { readonly kind: 'object'; readonly fields: Readonly<Record<string, Value>> }

export interface Field {
  /** The key in the answer: the alias, else the name. */
  readonly key: string
  readonly name: string
  readonly args: Readonly<Record<string, Value>>
  readonly selections: readonly Field[]
}

export interface Operation {
  readonly name: string | undefined
  readonly variables: readonly string[]
  readonly selections: readonly Field[]
}

export class GraphQLSyntaxError extends Error {
  override name = 'GraphQLSyntaxError'
}

const TOKEN =
  /\s+|#[^\n]*|,|(\.\.\.|[{}()[\]:$!=@])|("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([_A-Za-z][_0-9A-Za-z]*)/y

function tokenize(source: string): string[] {
  const tokens: string[] = []
  TOKEN.lastIndex = 0
  while (TOKEN.lastIndex < source.length) {
    const at = TOKEN.lastIndex
    const found = TOKEN.exec(source)
    if (!found)
      throw new GraphQLSyntaxError(`unexpected character at ${at}: ${source.slice(at, at + 10)}`)
    const token = found[1] ?? found[2] ?? found[3] ?? found[4]
    if (token !== undefined) tokens.push(token)
  }
  return tokens
}

class Parser {
  private index = 0
  constructor(private readonly tokens: readonly string[]) {}

  private peek(): string | undefined {
    return this.tokens[this.index]
  }

  private next(): string {
    const token = this.tokens[this.index++]
    if (token === undefined) throw new GraphQLSyntaxError('unexpected end of the query')
    return token
  }

  private expect(token: string): void {
    const found = this.next()
    if (found !== token) throw new GraphQLSyntaxError(`expected "${token}", found "${found}"`)
  }

  private name(): string {
    const token = this.next()
    if (!/^[_A-Za-z]/.test(token)) throw new GraphQLSyntaxError(`expected a name, found "${token}"`)
    return token
  }

  operation(): Operation {
    let name: string | undefined
    const variables: string[] = []
    if (this.peek() !== '{') {
      const keyword = this.name()
      if (keyword !== 'query')
        throw new GraphQLSyntaxError(`the stand-in serves queries, not ${keyword}`)
      if (this.peek() !== '{' && this.peek() !== '(') name = this.name()
      if (this.peek() === '(') {
        this.next()
        while (this.peek() !== ')') {
          this.expect('$')
          variables.push(this.name())
          this.expect(':')
          this.type()
          if (this.peek() === '=') throw new GraphQLSyntaxError('variable defaults are not served')
        }
        this.next()
      }
    }
    const selections = this.selectionSet()
    if (this.peek() !== undefined) throw new GraphQLSyntaxError('one operation per document')
    return { name, variables, selections }
  }

  private type(): void {
    if (this.peek() === '[') {
      this.next()
      this.type()
      this.expect(']')
    } else {
      this.name()
    }
    if (this.peek() === '!') this.next()
  }

  private selectionSet(): Field[] {
    this.expect('{')
    const fields: Field[] = []
    while (this.peek() !== '}') {
      if (this.peek() === '...' || this.peek() === '@') {
        throw new GraphQLSyntaxError('fragments and directives are not served')
      }
      fields.push(this.field())
    }
    this.next()
    return fields
  }

  private field(): Field {
    let key = this.name()
    let name = key
    if (this.peek() === ':') {
      this.next()
      name = this.name()
    } else {
      key = name
    }
    const args: Record<string, Value> = {}
    if (this.peek() === '(') {
      this.next()
      while (this.peek() !== ')') {
        const arg = this.name()
        this.expect(':')
        args[arg] = this.value()
      }
      this.next()
    }
    const selections = this.peek() === '{' ? this.selectionSet() : []
    return { key, name, args, selections }
  }

  private value(): Value {
    const token = this.next()
    if (token === '$') return { kind: 'variable', name: this.name() }
    if (token === '[') {
      const items: Value[] = []
      while (this.peek() !== ']') items.push(this.value())
      this.next()
      return { kind: 'list', items }
    }
    if (token === '{') {
      const fields: Record<string, Value> = {}
      while (this.peek() !== '}') {
        const name = this.name()
        this.expect(':')
        fields[name] = this.value()
      }
      this.next()
      return { kind: 'object', fields }
    }
    if (token.startsWith('"')) return { kind: 'literal', value: JSON.parse(token) as unknown }
    if (/^-?\d/.test(token)) return { kind: 'literal', value: Number(token) }
    if (token === 'true' || token === 'false') return { kind: 'literal', value: token === 'true' }
    if (token === 'null') return { kind: 'literal', value: null }
    if (/^[_A-Za-z]/.test(token)) return { kind: 'enum', name: token }
    throw new GraphQLSyntaxError(`unexpected "${token}"`)
  }
}

export function parseQuery(source: string): Operation {
  return new Parser(tokenize(source)).operation()
}

/** A value with its variables filled in; enums become their names. */
export function resolveValue(value: Value, variables: Readonly<Record<string, unknown>>): unknown {
  switch (value.kind) {
    case 'variable':
      return variables[value.name] ?? null
    case 'literal':
      return value.value
    case 'enum':
      return value.name
    case 'list':
      return value.items.map(item => resolveValue(item, variables))
    case 'object':
      return Object.fromEntries(
        Object.entries(value.fields).map(([k, v]) => [k, resolveValue(v, variables)])
      )
  }
}
