/**
 * ssh2 reads `__dirname` at load time, which an ES module does not have. This module is imported
 * first by the entry point so the bundle defines it before ssh2 loads.
 */
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const globals = globalThis as { __dirname?: string }
globals.__dirname ??= dirname(fileURLToPath(import.meta.url))
