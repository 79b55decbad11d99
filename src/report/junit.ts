/**
 * Test counts and the first failing tests from JUnit XML reports, as Jest (jest-junit), pytest,
 * Maven Surefire and gotestsum write them: `<testsuites>`/`<testsuite>` holding `<testcase>`
 * elements whose `<failure>`, `<error>` or `<skipped>` child says how they ended. Counts come
 * from the test cases themselves, not from the suites' attributes, which tools fill differently.
 * No dependency: a small XML reader that keeps elements, attributes and text, decodes entities
 * and CDATA, and skips comments, processing instructions and the doctype.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { errorMessage } from '../errors.js'
import { globToRegex } from '../artifact/glob.js'
import type { TestFailure, TestSummary } from './model.js'

export interface TestReport {
  /** Undefined when no report file could be read. */
  readonly summary: TestSummary | undefined
  /** Report files read, relative to `cwd` when inside it. */
  readonly files: readonly string[]
  /** What the user should know: nothing matched, a file could not be parsed. */
  readonly warnings: readonly string[]
}

export interface ReadOptions {
  /** Failing tests kept by name and message (default 20). */
  readonly maxFailures?: number
}

interface XmlElement {
  readonly name: string
  readonly attrs: Readonly<Record<string, string>>
  readonly children: XmlElement[]
  text: string
}

const MAX_FILES = 500
const MAX_ENTRIES_SCANNED = 50_000
const MAX_FILE_BYTES = 100 * 1024 * 1024
/** Text kept per element: enough for a message, not a whole captured stdout. */
const MAX_TEXT = 16 * 1024
const SKIPPED_DIRECTORIES = new Set(['node_modules', '.git'])

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'"
}

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, entity: string) => {
    if (entity.startsWith('#')) {
      const point =
        entity[1] === 'x' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10)
      return point <= 0x10ffff ? String.fromCodePoint(point) : '\uFFFD'
    }
    return NAMED_ENTITIES[entity] ?? whole
  })
}

function skipPast(xml: string, from: number, terminator: string): number {
  const end = xml.indexOf(terminator, from)
  if (end < 0) throw new Error(`unterminated markup at offset ${from}`)
  return end + terminator.length
}

const ATTRIBUTE = /\s*([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/y
const NAME = /[^\s/>]+/y

/** Reads a start tag at `at` (just past `<`); returns the element and the offset after `>`. */
function readStartTag(
  xml: string,
  at: number
): { element: XmlElement; end: number; selfClosing: boolean } {
  NAME.lastIndex = at
  const name = NAME.exec(xml)?.[0]
  if (name === undefined) throw new Error(`malformed tag at offset ${at}`)
  const attrs: Record<string, string> = {}
  let index = at + name.length
  for (;;) {
    ATTRIBUTE.lastIndex = index
    const match = ATTRIBUTE.exec(xml)
    if (!match) break
    attrs[match[1] ?? ''] = decodeEntities(match[2] ?? match[3] ?? '')
    index = ATTRIBUTE.lastIndex
  }
  const close = /\s*(\/?)>/y
  close.lastIndex = index
  const ending = close.exec(xml)
  if (!ending) throw new Error(`malformed <${name}> at offset ${at}`)
  return {
    element: { name, attrs, children: [], text: '' },
    end: close.lastIndex,
    selfClosing: ending[1] === '/'
  }
}

function appendText(element: XmlElement, text: string): void {
  if (element.text.length < MAX_TEXT) element.text = (element.text + text).slice(0, MAX_TEXT)
}

/** The document's root element. Lenient about mismatched end tags, strict about truncation. */
export function parseXml(xml: string): XmlElement {
  const document: XmlElement = { name: '#document', attrs: {}, children: [], text: '' }
  const stack: XmlElement[] = [document]
  let i = 0
  while (i < xml.length) {
    const current = stack[stack.length - 1] ?? document
    const lt = xml.indexOf('<', i)
    if (lt < 0 || lt > i) {
      appendText(current, decodeEntities(xml.slice(i, lt < 0 ? undefined : lt)))
      if (lt < 0) break
      i = lt
    }
    if (xml.startsWith('<!--', i)) i = skipPast(xml, i + 4, '-->')
    else if (xml.startsWith('<![CDATA[', i)) {
      const end = skipPast(xml, i + 9, ']]>')
      appendText(current, xml.slice(i + 9, end - 3))
      i = end
    } else if (xml.startsWith('<?', i)) i = skipPast(xml, i + 2, '?>')
    else if (xml.startsWith('<!', i)) i = skipPast(xml, i + 2, '>')
    else if (xml.startsWith('</', i)) {
      const end = skipPast(xml, i + 2, '>')
      const name = xml.slice(i + 2, end - 1).trim()
      const open = stack.map(e => e.name).lastIndexOf(name)
      if (open > 0) stack.length = open
      i = end
    } else {
      const { element, end, selfClosing } = readStartTag(xml, i + 1)
      current.children.push(element)
      if (!selfClosing) stack.push(element)
      i = end
    }
  }
  if (stack.length > 1) throw new Error(`<${stack[stack.length - 1]?.name ?? ''}> is never closed`)
  const root = document.children[0]
  if (!root) throw new Error('no XML element')
  return root
}

function child(element: XmlElement, ...names: string[]): XmlElement | undefined {
  return element.children.find(c => names.includes(c.name))
}

function displayName(testcase: XmlElement): string {
  const name = testcase.attrs['name'] ?? ''
  const classname = testcase.attrs['classname'] ?? ''
  if (!classname || name.startsWith(classname)) return name || classname || '(unnamed test)'
  return name ? `${classname} › ${name}` : classname
}

/** Lines go test -v prints around a test's own output. */
const GO_TEST_NOISE = /^(?:=== (?:RUN|PAUSE|CONT|NAME)|--- FAIL)\b/

function meaningfulLine(text: string): string {
  return (
    text
      .split('\n')
      .map(line => line.trim())
      .find(line => line !== '' && !GO_TEST_NOISE.test(line)) ?? ''
  )
}

/** The `message` attribute, unless it only says "Failed" (gotestsum) and the text says more. */
function failureMessage(failure: XmlElement): string {
  const attribute = meaningfulLine(failure.attrs['message'] ?? '')
  if (attribute !== '' && !/^fail(?:ed|ure)?$/i.test(attribute)) return attribute
  return meaningfulLine(failure.text) || attribute || (failure.attrs['type'] ?? '')
}

interface Tally {
  readonly keep: number
  total: number
  failed: number
  skipped: number
  failures: TestFailure[]
}

function tallyCase(testcase: XmlElement, tally: Tally): void {
  tally.total++
  const failure = child(testcase, 'failure', 'error')
  if (failure) {
    tally.failed++
    if (tally.failures.length < tally.keep) {
      tally.failures.push({ name: displayName(testcase), message: failureMessage(failure) })
    }
  } else if (child(testcase, 'skipped')) tally.skipped++
}

/** Test cases anywhere below; a suite's own `<failure>`/`<error>` (it failed to run) counts as one. */
function tallyElement(element: XmlElement, tally: Tally): void {
  if (element.name === 'testcase') return tallyCase(element, tally)
  if (element.name === 'testsuite') {
    const failure = child(element, 'failure', 'error')
    if (failure) {
      tally.total++
      tally.failed++
      const name = element.attrs['name'] ?? '(test suite)'
      if (tally.failures.length < tally.keep) {
        tally.failures.push({ name, message: failureMessage(failure) })
      }
    }
  }
  for (const c of element.children) tallyElement(c, tally)
}

function isJUnit(root: XmlElement): boolean {
  return root.name === 'testsuites' || root.name === 'testsuite'
}

// ---- finding the files -------------------------------------------------------------------

const GLOB_CHARS = /[*?[]/

interface Pattern {
  readonly root: string
  /** Anchored matcher for paths relative to `root`; undefined for a literal file path. */
  readonly matcher: RegExp | undefined
  /** Directory levels to descend (Infinity with `**`). */
  readonly depth: number
  /** The pattern names a directory we normally skip (node_modules, .git). */
  readonly entersSkipped: boolean
}

function compilePattern(pattern: string, cwd: string): Pattern {
  const posix = pattern.replace(/\\/g, '/')
  const absolute = path.isAbsolute(pattern)
  const segments = posix.split('/').filter(s => s !== '' && s !== '.')
  const firstGlob = segments.findIndex(s => GLOB_CHARS.test(s))
  const fixed = firstGlob < 0 ? segments : segments.slice(0, firstGlob)
  const rest = firstGlob < 0 ? [] : segments.slice(firstGlob)
  const root = path.resolve(absolute ? path.parse(path.resolve(pattern)).root : cwd, ...fixed)
  return {
    root,
    matcher: rest.length === 0 ? undefined : globToRegex(rest.join('/')),
    depth: rest.includes('**') || rest.some(s => s.includes('**')) ? Infinity : rest.length,
    entersSkipped: segments.some(s => SKIPPED_DIRECTORIES.has(s))
  }
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile()
  } catch {
    return false
  }
}

interface Walk {
  readonly found: Set<string>
  scanned: number
}

async function walk(pattern: Pattern, dir: string, level: number, state: Walk): Promise<void> {
  if (level >= pattern.depth || state.scanned > MAX_ENTRIES_SCANNED) return
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const entry of entries) {
    state.scanned++
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) {
      if (SKIPPED_DIRECTORIES.has(entry.name) && !pattern.entersSkipped) continue
      await walk(pattern, full, level + 1, state)
    } else if (entry.isFile()) {
      const relative = path.relative(pattern.root, full).split(path.sep).join('/')
      if (pattern.matcher?.test(relative)) state.found.add(full)
    }
  }
}

/** Files matching any of the newline-separated patterns (`*`, `?`, `[...]`, `**`), sorted. */
export async function findReportFiles(glob: string, cwd: string): Promise<string[]> {
  const state: Walk = { found: new Set(), scanned: 0 }
  const patterns = glob
    .split('\n')
    .map(p => p.trim())
    .filter(p => p !== '')
  for (const text of patterns) {
    const pattern = compilePattern(text, cwd)
    if (pattern.matcher === undefined) {
      if (await isFile(pattern.root)) state.found.add(pattern.root)
    } else await walk(pattern, pattern.root, 0, state)
  }
  return [...state.found].sort().slice(0, MAX_FILES)
}

// ---- reading -------------------------------------------------------------------------------

function shown(file: string, cwd: string): string {
  const relative = path.relative(cwd, file)
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative
}

async function readOne(file: string, tally: Tally): Promise<string | undefined> {
  if ((await stat(file)).size > MAX_FILE_BYTES) return 'is larger than 100 MiB; skipped'
  const root = parseXml(await readFile(file, 'utf8'))
  if (!isJUnit(root)) return `is not a JUnit report (its root element is <${root.name}>)`
  tallyElement(root, tally)
  return undefined
}

/**
 * Reads every JUnit report matching `glob` (relative to `cwd`). Never throws for missing or bad
 * files: they come back as warnings, and `summary` is undefined when no report was read.
 */
export async function readTestReport(
  glob: string,
  cwd: string,
  options: ReadOptions = {}
): Promise<TestReport> {
  const files = await findReportFiles(glob, cwd)
  if (files.length === 0) {
    return {
      summary: undefined,
      files: [],
      warnings: [`No test report matched \`${glob.trim()}\` in ${cwd}.`]
    }
  }
  const tally: Tally = {
    keep: options.maxFailures ?? 20,
    total: 0,
    failed: 0,
    skipped: 0,
    failures: []
  }
  const warnings: string[] = []
  const read: string[] = []
  for (const file of files) {
    try {
      const problem = await readOne(file, tally)
      if (problem === undefined) read.push(shown(file, cwd))
      else warnings.push(`Test report ${shown(file, cwd)} ${problem}.`)
    } catch (error: unknown) {
      warnings.push(`Test report ${shown(file, cwd)} could not be read: ${errorMessage(error)}`)
    }
  }
  if (read.length === 0) return { summary: undefined, files: read, warnings }
  const summary: TestSummary = {
    total: tally.total,
    passed: tally.total - tally.failed - tally.skipped,
    failed: tally.failed,
    skipped: tally.skipped,
    failures: tally.failures
  }
  return { summary, files: read, warnings }
}
