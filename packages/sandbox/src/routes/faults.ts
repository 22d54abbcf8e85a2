import type { FastifyInstance } from 'fastify';
import { requireUser } from '../auth.js';
import type { SandboxContext } from '../context.js';
import { badRequest } from '../errors.js';
import type { FaultConfig } from '../faults.js';

/**
 * The fault control API (admin only), under `/api/sandbox/v1/faults`:
 * `GET` the active faults, `PUT` replaces them, `PATCH` merges (`null` clears one), `DELETE` clears all.
 * @internal
 */
export async function faultRoutes(app: FastifyInstance, ctx: SandboxContext): Promise<void> {
  app.addHook('onRequest', requireUser(ctx));
  const path = '/api/sandbox/v1/faults';
  const apply = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof TypeError) throw badRequest(err.message);
      throw err;
    }
    return ctx.faults.get();
  };
  app.get(path, async () => ctx.faults.get());
  app.put(path, async (request) => apply(() => ctx.faults.set((request.body ?? {}) as FaultConfig)));
  app.patch(path, async (request) =>
    apply(() => {
      const body = request.body ?? {};
      if (typeof body !== 'object' || Array.isArray(body)) throw new TypeError('faults must be an object');
      ctx.faults.update(body as FaultConfig);
    }),
  );
  app.delete(path, async (_request, reply) => {
    ctx.faults.clear();
    return reply.code(204).send();
  });
}
