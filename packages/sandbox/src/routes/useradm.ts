import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { requireUser } from '../auth.js';
import { nowIso, nowSeconds, type SandboxContext } from '../context.js';
import { badRequest, HttpError, notFound, unauthorized } from '../errors.js';
import { objectBody } from '../http.js';
import { signJwt } from '../signing.js';

const MAX_PATS = 10;
const MAX_PAT_EXPIRY = 31_536_000;

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** useradm: login/logout, the current user, personal access tokens. @internal */
export async function useradmRoutes(app: FastifyInstance, ctx: SandboxContext): Promise<void> {
  const prefix = '/api/management/v1/useradm';

  app.post(`${prefix}/auth/login`, async (request, reply) => {
    const header = request.headers.authorization;
    const m = typeof header === 'string' ? /^Basic\s+(\S+)$/i.exec(header) : null;
    if (!m?.[1]) throw unauthorized('unauthorized');
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw unauthorized('unauthorized');
    const email = decoded.slice(0, colon).toLowerCase();
    const password = decoded.slice(colon + 1);
    if (!safeEqual(email, ctx.adminEmail.toLowerCase()) || !safeEqual(password, ctx.adminPassword)) {
      throw unauthorized('unauthorized');
    }
    let noExpiry = false;
    if (request.body !== undefined) {
      const body = objectBody(request.body);
      if (body.no_expiry !== undefined && typeof body.no_expiry !== 'boolean') {
        throw badRequest('failed to decode request body: no_expiry must be a boolean');
      }
      noExpiry = body.no_expiry === true;
    }
    const iat = nowSeconds(ctx);
    const token = await signJwt(
      {
        jti: randomUUID(),
        sub: ctx.adminUserId,
        iss: ctx.userIssuer,
        iat,
        nbf: iat,
        ...(noExpiry ? {} : { exp: iat + ctx.userTokenTtl }),
        scp: 'mender.*',
        'mender.user': true,
      },
      ctx.secrets.jwtKey,
    );
    return reply.code(200).type('application/jwt').send(token);
  });

  app.register(async (scoped) => {
    scoped.addHook('onRequest', requireUser(ctx));

    scoped.post(`${prefix}/auth/logout`, async (request, reply) => {
      const caller = request.user!;
      ctx.store.state.revokedUserTokens[caller.jti] = nowSeconds(ctx);
      ctx.store.markChanged();
      return reply.code(202).send();
    });

    const me = () => ({
      id: ctx.adminUserId,
      email: ctx.adminEmail,
      created_ts: ctx.startedAt,
      updated_ts: ctx.startedAt,
    });
    scoped.get(`${prefix}/users/me`, async () => me());
    scoped.get(`${prefix}/users`, async () => [me()]);
    scoped.get<{ Params: { id: string } }>(`${prefix}/users/:id`, async (request) => {
      if (request.params.id !== ctx.adminUserId && request.params.id !== 'me')
        throw notFound('user not found');
      return me();
    });

    scoped.get(`${prefix}/settings/tokens`, async () =>
      Object.values(ctx.store.state.pats).map((p) => ({
        id: p.id,
        name: p.name,
        created_ts: p.created_ts,
        ...(p.expiration_date ? { expiration_date: p.expiration_date } : {}),
        ...(p.last_used ? { last_used: p.last_used } : {}),
      })),
    );

    scoped.post(`${prefix}/settings/tokens`, async (request, reply) => {
      const body = objectBody(request.body);
      const name = body.name;
      if (typeof name !== 'string' || name === '') throw badRequest('name: cannot be blank.');
      const expiresIn = body.expires_in ?? 0;
      if (typeof expiresIn !== 'number' || !Number.isInteger(expiresIn) || expiresIn < 0) {
        throw badRequest('expires_in: must be a non-negative integer.');
      }
      if (expiresIn > MAX_PAT_EXPIRY)
        throw badRequest(`expires_in: must be no greater than ${MAX_PAT_EXPIRY}.`);
      const pats = Object.values(ctx.store.state.pats);
      if (pats.some((p) => p.name === name))
        throw new HttpError(409, 'Personal Access Token with a given name already exists');
      if (pats.length >= MAX_PATS)
        throw new HttpError(422, 'maximum number of personal acess tokens reached for this user');
      const iat = nowSeconds(ctx);
      const id = randomUUID();
      const exp = expiresIn > 0 ? iat + expiresIn : undefined;
      ctx.store.state.pats[id] = {
        id,
        name,
        created_ts: nowIso(ctx),
        ...(exp !== undefined ? { expiration_date: new Date(exp * 1000).toISOString() } : {}),
      };
      ctx.store.markChanged();
      const token = await signJwt(
        {
          jti: id,
          sub: ctx.adminUserId,
          iss: ctx.userIssuer,
          iat,
          ...(exp !== undefined ? { exp } : {}),
          scp: 'mender.*',
          'mender.user': true,
          'mender.pat': true,
        },
        ctx.secrets.jwtKey,
      );
      return reply.code(200).type('application/jwt').send(token);
    });

    scoped.delete<{ Params: { id: string } }>(`${prefix}/settings/tokens/:id`, async (request, reply) => {
      delete ctx.store.state.pats[request.params.id];
      ctx.store.markChanged();
      return reply.code(204).send();
    });
  });
}
