import type { FastifyReply } from 'fastify';

/** Recorded for a request whose client left before its response ended (nginx's convention). */
export const CLIENT_CLOSED_REQUEST = 499;

/**
 * The response's status, or 499 when its client left before the whole response was handed to
 * the socket. Read it on the response's `close` event: Node emits that once for every response,
 * finished or not, whereas `finish` (and with it onResponse) never comes for an abandoned one.
 */
export function outcomeStatus(reply: FastifyReply): number {
  // writableEnded: in-process injection never reports writableFinished.
  return reply.raw.writableFinished || reply.raw.writableEnded
    ? reply.statusCode
    : CLIENT_CLOSED_REQUEST;
}

/**
 * Whether the client has gone and nobody will read what is sent now: whatever failed because of
 * it (an aborted generation, a cancelled queue wait) is the client's doing, not a server fault.
 */
export function clientLeft(reply: FastifyReply): boolean {
  // Not the request stream's own `destroyed`: that is set as soon as the body has been read.
  return (
    !reply.raw.writableEnded &&
    (reply.raw.destroyed || reply.request.raw.socket?.destroyed === true)
  );
}
