/** Issue and pull request comments, and reactions on them. */
import {
  bodyObject,
  created,
  idParam,
  noContent,
  notFound,
  ok,
  paginated,
  repoParam,
  requiredString,
  validationFailed
} from '../http.js'
import { commentShape, REACTIONS, reactionShape } from '../shapes.js'
import type { CommentRecord } from '../records.js'
import type { BuiltInHandler, HandlerContext } from '../types.js'

/** GitHub refuses comment bodies longer than this many characters. */
export const MAX_COMMENT_LENGTH = 65536

function commentBody(context: HandlerContext): string {
  const body = requiredString('IssueComment', bodyObject(context.request), 'body')
  if ([...body].length > MAX_COMMENT_LENGTH) {
    throw validationFailed(
      'IssueComment',
      'body',
      'custom',
      `body is too long (maximum is ${MAX_COMMENT_LENGTH} characters)`
    )
  }
  return body
}

function existingComment({ request, state }: HandlerContext): CommentRecord {
  const comment = state.comment(repoParam(request), idParam(request, 'comment_id'))
  if (!comment) throw notFound()
  return comment
}

const listComments: BuiltInHandler = context => {
  const { request, state, urls } = context
  const since = request.query['since']
  const comments = state
    .commentsOn(idParam(request, 'issue_number'), repoParam(request))
    .filter(comment => since === undefined || comment.updatedAt >= since)
    .sort((a, b) => a.id - b.id)
  return paginated(
    request,
    urls,
    comments.map(comment => commentShape(state, urls, comment))
  )
}

const createComment: BuiltInHandler = context => {
  const { request, state, urls } = context
  const comment = state.addComment({
    repository: state.repo(repoParam(request)).fullName,
    issueNumber: idParam(request, 'issue_number'),
    body: commentBody(context),
    user: state.identity
  })
  return created(commentShape(state, urls, comment))
}

const getComment: BuiltInHandler = context =>
  ok(commentShape(context.state, context.urls, existingComment(context)))

const updateComment: BuiltInHandler = context => {
  const comment = existingComment(context)
  comment.body = commentBody(context)
  comment.updatedAt = context.state.now()
  return ok(commentShape(context.state, context.urls, comment))
}

const deleteComment: BuiltInHandler = context => {
  const comment = existingComment(context)
  context.state.comments.delete(comment.id)
  for (const reaction of context.state.reactionsOn(comment.id)) {
    context.state.reactions.delete(reaction.id)
  }
  return noContent()
}

const listReactions: BuiltInHandler = context => {
  const { request, state, urls } = context
  const content = request.query['content']
  const reactions = state
    .reactionsOn(existingComment(context).id)
    .filter(reaction => content === undefined || reaction.content === content)
  return paginated(
    request,
    urls,
    reactions.map(reaction => reactionShape(urls, reaction))
  )
}

/** A second identical reaction by the same user answers 200 with the first one, as GitHub does. */
const createReaction: BuiltInHandler = context => {
  const { request, state, urls } = context
  const comment = existingComment(context)
  const content = requiredString('Reaction', bodyObject(request), 'content')
  if (!REACTIONS.includes(content)) throw validationFailed('Reaction', 'content', 'invalid')
  const existing = state
    .reactionsOn(comment.id)
    .find(r => r.content === content && r.user.id === state.identity.id)
  if (existing) return ok(reactionShape(urls, existing))
  return created(reactionShape(urls, state.addReaction(comment.id, content, state.identity)))
}

const deleteReaction: BuiltInHandler = context => {
  const comment = existingComment(context)
  const id = idParam(context.request, 'reaction_id')
  const reaction = context.state.reactions.get(id)
  if (reaction?.commentId !== comment.id) throw notFound()
  context.state.reactions.delete(id)
  return noContent()
}

export const commentHandlers: Readonly<Record<string, BuiltInHandler>> = {
  'issues/list-comments': listComments,
  'issues/create-comment': createComment,
  'issues/get-comment': getComment,
  'issues/update-comment': updateComment,
  'issues/delete-comment': deleteComment,
  'reactions/list-for-issue-comment': listReactions,
  'reactions/create-for-issue-comment': createReaction,
  'reactions/delete-for-issue-comment': deleteReaction
}
