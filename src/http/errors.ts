import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../domain/errors.js';
import { toDetails } from './openapi/validator.js';
import { clientLeft } from './plugins/response-outcome.js';

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    type: string;
    param: string | null;
    details: { field: string; issue: string }[];
    request_id: string;
  };
}

export function errorBody(error: AppError, requestId: string): ErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      type: error.type,
      param: error.param,
      details: error.details,
      request_id: requestId,
    },
  };
}

const PART_NAMES: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'headers',
};

/** Maps whatever was thrown (framework errors included) onto the one error catalog. */
export function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
  const fastifyError = error as Partial<FastifyError> & { validationContext?: string };
  if (fastifyError.validation) {
    const part = fastifyError.validationContext ?? 'body';
    const errors = fastifyError.validation as { keyword: string }[];
    const details = toDetails(errors as never, PART_NAMES[part] ?? part);
    // An unrecognised field is named by the client: the answer names it, the log must not.
    const unrecognised = errors.some((e) => e.keyword === 'additionalProperties');
    return new AppError('VALIDATION_ERROR', {
      ...(unrecognised
        ? { logFields: { param: `(unrecognised ${PART_NAMES[part] ?? part} field)` } }
        : {}),
      message:
        part === 'body'
          ? 'Request body failed schema validation'
          : `Request ${PART_NAMES[part] ?? part} parameters failed validation`,
      details,
    });
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('INVALID_JSON');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('INVALID_JSON', { message: 'Request body is empty' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('INVALID_JSON', { message: 'Content-Length does not match the body' });
    default:
      break;
  }
  return new AppError('INTERNAL_ERROR', { cause: error });
}

export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: AppError,
): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  if (error.code === 'UNAUTHORIZED') reply.header('www-authenticate', 'Bearer');
  return reply
    .code(error.status)
    .type('application/json; charset=utf-8')
    .send(errorBody(error, request.id));
}

export function errorHandler(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const appError = toAppError(error);
  if (clientLeft(reply)) {
    // Whatever failed, failed because the client went away: an ordinary outcome, not a fault.
    request.log.info({ code: appError.code }, 'client closed request');
  } else if (appError.code === 'OVERLOADED') {
    // Load shedding working as designed; the message says why (capacity, lag, shutdown).
    request.log.warn({ code: appError.code, reason: appError.message }, 'request shed');
  } else if (appError.status >= 500) {
    request.log.error({ err: appError.cause ?? appError, code: appError.code }, 'request failed');
  } else if (appError.code === 'RATE_LIMITED') {
    // One line per rejection, naming the limit, so that a throttled client can be explained.
    request.log.warn({ code: appError.code, ...appError.logFields }, 'rate limit rejected');
  } else {
    // Client errors are logged without their message: parser messages can quote the body.
    request.log.info(
      { code: appError.code, param: appError.param, ...appError.logFields },
      'request rejected',
    );
  }
  return sendError(request, reply, appError);
}
