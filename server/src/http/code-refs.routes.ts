import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CODE_REF_LIMITS } from '../domain/code-refs.js';
import { LIMITS } from '../domain/flags.js';
import type { CodeRefsService } from '../services/code-refs.service.js';
import { auditContext } from './request-context.js';
import { errorResponses, errorSchema } from './responses.js';

/** Single-line text: a path, branch or repository name with a newline in it is a broken scan. */
const line = (max: number) => z.string().min(1).max(max).regex(/^[^\r\n]*$/, 'must be one line');

const reference = z.strictObject({
  // A flag key as the server knows it; references to flags that no longer exist are kept too.
  flag: z.string().min(1).max(LIMITS.key),
  path: line(CODE_REF_LIMITS.path).describe('Path from the repository root, with "/" separators'),
  line: z.int().min(1).max(10_000_000),
  snippet: z.string().max(CODE_REF_LIMITS.snippet).regex(/^[^\r\n]*$/, 'must be one line').describe('The line, trimmed'),
});

const uploadBody = z.strictObject({
  repository: line(CODE_REF_LIMITS.repository).describe('The repository, e.g. "github.com/acme/shop" or "shop"'),
  branch: line(CODE_REF_LIMITS.branch),
  commit: z.string().min(1).max(CODE_REF_LIMITS.commit).regex(/^[0-9a-zA-Z._-]+$/, 'must be a commit id (hexadecimal) or a tag-like name'),
  references: z.array(reference).max(CODE_REF_LIMITS.references).describe(`Every reference found; at most ${CODE_REF_LIMITS.references}`),
});

const codeRefResponse = z.object({
  repository: z.string(),
  branch: z.string(),
  commit: z.string(),
  path: z.string(),
  line: z.int(),
  snippet: z.string(),
  uploadedAt: z.number().describe('When the upload that found it was made (epoch ms)'),
});

const flagCodeRefsResponse = z.object({
  items: z.array(codeRefResponse).describe(`References in every uploaded repository and branch (at most ${CODE_REF_LIMITS.listed})`),
  total: z.int().describe('How many references there are'),
  lastReferencedAt: z.number().nullable().describe('When an upload last found the flag referenced (epoch ms), or null'),
  removedAt: z.number().nullable().describe('When the flag\'s last reference disappeared (epoch ms); null while it is referenced, or if it never was'),
});

/**
 * Code references. `PUT /api/code-refs` (editor): what `switchyard code-refs --upload` found in one
 * repository and branch, replacing that repository+branch's previous upload. `GET
 * /api/flags/{key}/code-refs` (viewer): where a flag is used, and when its last reference went.
 */
export const codeRefsRoutes: FastifyPluginAsyncZod<{ codeRefs: CodeRefsService }> = async (app, { codeRefs }) => {
  app.put('/api/code-refs', {
    bodyLimit: CODE_REF_LIMITS.bodyBytes,
    schema: {
      tags: ['flags'],
      summary: "Replace a repository branch's flag references (what `switchyard code-refs --upload` found)",
      body: uploadBody,
      response: { 200: z.object({ repository: z.string(), branch: z.string(), commit: z.string(), references: z.int(), uploadedAt: z.number().describe('epoch ms') }), ...errorResponses, 413: errorSchema },
    },
    onRequest: app.requireRole('editor'),
  }, async (request) => {
    const { repository, branch, commit, references } = request.body;
    const refs = references.map(({ flag, ...rest }) => ({ flagKey: flag, ...rest }));
    const result = await codeRefs.upload({ repository, branch, commit, uploadedBy: auditContext(request).actor }, refs);
    return { repository, branch, commit, ...result };
  });

  app.get('/api/flags/:key/code-refs', {
    schema: {
      tags: ['flags'],
      summary: 'Where a flag is referenced in uploaded repositories, and when its last reference disappeared',
      params: z.strictObject({ key: z.string().max(LIMITS.key) }),
      response: { 200: flagCodeRefsResponse, ...errorResponses },
    },
    onRequest: app.requireRole('viewer'),
  }, async (request) => {
    const found = await codeRefs.forFlag(request.params.key);
    return { ...found, items: found.items.map(({ flagKey: _flagKey, ...rest }) => rest) };
  });
};
