import { z } from 'zod';

/** The one error shape, documented on every route. */
export const errorSchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'Error' });

export const errorResponses = {
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  404: errorSchema,
  409: errorSchema,
  428: errorSchema,
} as const;

/**
 * Row ids (tokens, SDK keys, webhooks, audit entries) are 32-bit integers in PostgreSQL: a larger
 * one in a URL was a 500 ("out of range for type integer") there instead of a 400.
 */
export const MAX_ROW_ID = 2_147_483_647;
export const rowIdSchema = z.coerce.number().int().min(1).max(MAX_ROW_ID);

export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: rowIdSchema.optional().describe('Cursor: return entries older than this id'),
});
