/**
 * The local GitHub REST API stand-in (DESIGN.md §7). Start one per suite:
 *
 *   const github = await startGitHubStandIn({ repository: 'octo-org/octo-app' })
 *   process.env.GITHUB_API_URL = github.url
 *   github.state.addPull({ number: 7, head: { sha: HEAD_SHA } })
 *   github.state.setRole('alice', 'write')
 *   github.respond('issues/create-comment', { status: 500, times: 1 })
 *   ...
 *   github.assertNoViolations()
 *   expect(github.requestsTo('issues/create-comment')[0]?.token).toBe('ghs_test')
 *
 * Requests outside GitHub's published REST description (npm `@octokit/openapi`, see
 * `scripts/extract-openapi-routes.mjs`) answer 404, and query parameters or JSON body properties
 * the operation does not document answer 400; both land in `violations`, which
 * `assertNoViolations()` turns into a failing test. Valid operations without a handler answer
 * 501 and land in `unhandled`.
 */
export { startGitHubStandIn } from './github-standin/server.js'
export type {
  CannedResponse,
  GitHubStandIn,
  OverrideOptions,
  StandInOptions
} from './github-standin/server.js'
export { MAX_COMMENT_LENGTH } from './github-standin/handlers/comments.js'
export { HttpError, httpError, notFound, validationFailed } from './github-standin/http.js'
export { ACTIONS_BOT, fakeSha, StandInState } from './github-standin/state.js'
export type {
  Author,
  CommentRecord,
  CommentSeed,
  DeploymentRecord,
  DeploymentSeed,
  DeploymentState,
  DeploymentStatusRecord,
  DeploymentStatusSeed,
  IssueRecord,
  IssueSeed,
  PullRecord,
  PullSeed,
  ReactionRecord,
  RepoRecord
} from './github-standin/records.js'
export type {
  Handler,
  HandlerContext,
  IncomingCall,
  OpenApiRoute,
  Outcome,
  RecordedRequest,
  Role,
  StandInResponse,
  Urls,
  UserRecord,
  UserType,
  Violation
} from './github-standin/types.js'
