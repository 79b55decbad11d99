/** Every built-in handler, by operationId. */
import type { BuiltInHandler } from '../types.js'
import { commentHandlers } from './comments.js'
import { deploymentHandlers } from './deployments.js'
import { repositoryHandlers } from './repository.js'

export const BUILT_IN_HANDLERS: Readonly<Record<string, BuiltInHandler>> = {
  ...commentHandlers,
  ...deploymentHandlers,
  ...repositoryHandlers
}
