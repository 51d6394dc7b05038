import 'server-only';
import { and, asc, eq, lt, sql } from 'drizzle-orm';
import { getDb, type DbOrTx } from '@/db/client';
import { apps, healthSystems, issuers, registrationOperationResolutions, registrationOperations, registrations, type RegistrationOperation } from '@/db/schema';
import { actorCan, actorLabel, assertCan, systemActor, type Actor } from '@/lib/auth/actor';
import { recordAudit } from '@/lib/audit/record';
import { AppError } from '@/lib/errors';
import { findRecoveryFile } from './recovery';
import { closeOperationSchema, reconcileOperationSchema, type CloseOperationInput, type ReconcileOperationInput } from './schemas';
import { isUuid } from '@/lib/ids';

/**
 * Registration operations whose outcome Registrar cannot know. The intent row is written
 * `in_flight` before the request leaves; if the process dies after the hospital answered and
 * before the answer is committed, the row stays `in_flight` forever. A stale scan turns such rows
 * into `outcome_unknown`, and a person resolves them from what the hospital shows.
 */

/** An operation still in flight after this long has lost its process: nothing will finish it. */
export const STALE_OPERATION_MS = 2 * 60_000;

/** Ops and admins (who register) and managers (who audit) read operations; support does not. */
export function canReadOperations(actor: Actor): boolean {
  return actorCan(actor, 'registrations:write') || actorCan(actor, 'audit:read');
}

function assertCanReadOperations(actor: Actor): void {
  if (!canReadOperations(actor)) assertCan(actor, 'audit:read');
}

function clientDescription(request: Record<string, unknown>): { clientName: string | null; softwareId: string | null } {
  const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v : null);
  return { clientName: str(request.client_name), softwareId: str(request.software_id) };
}

/** "look for a client named X with software_id Y at the hospital" for an operation's request. */
export function whatToLookFor(request: Record<string, unknown>): string {
  const { clientName, softwareId } = clientDescription(request);
  const named = clientName ? `a client named “${clientName}”` : 'a client';
  return `look for ${named}${softwareId ? ` with software_id ${softwareId}` : ''} at the hospital`;
}

function staleError(op: Pick<RegistrationOperation, 'request' | 'createdAt'>) {
  return {
    code: 'NEEDS_RECOVERY',
    message: `Registrar stopped while this registration (sent ${op.createdAt.toISOString()}) was in flight. Registrar cannot tell whether the hospital registered the client; ${whatToLookFor(op.request)}, then record what you find on the operation page.`,
  };
}

/**
 * Marks one operation `outcome_unknown` if it is still `in_flight` and older than the threshold
 * (a conditional update: a process that is merely slow and commits first wins). True when marked.
 */
export async function markOperationStaleIfAbandoned(db: DbOrTx, operationId: string, opts: { now?: Date; olderThanMs?: number } = {}): Promise<boolean> {
  const cutoff = new Date((opts.now ?? new Date()).getTime() - (opts.olderThanMs ?? STALE_OPERATION_MS));
  const [op] = await db
    .select({ request: registrationOperations.request, createdAt: registrationOperations.createdAt })
    .from(registrationOperations)
    .where(eq(registrationOperations.id, operationId));
  if (!op) return false;
  const marked = await db
    .update(registrationOperations)
    .set({ status: 'outcome_unknown', error: staleError(op), updatedAt: opts.now ?? new Date() })
    .where(and(eq(registrationOperations.id, operationId), eq(registrationOperations.status, 'in_flight'), lt(registrationOperations.updatedAt, cutoff)))
    .returning({ id: registrationOperations.id });
  return marked.length > 0;
}

/**
 * The stale scan: every operation `in_flight` for longer than `olderThanMs` (2 minutes) becomes
 * `outcome_unknown`, audited. Returns the operations it marked. Run it from a job or a script;
 * `now` is for tests.
 */
export async function findStaleOperations(opts: { now?: Date; olderThanMs?: number; actor?: Actor } = {}) {
  const actor = opts.actor ?? systemActor('stale-operation-scan');
  assertCan(actor, 'registrations:write');
  const now = opts.now ?? new Date();
  const cutoff = new Date(now.getTime() - (opts.olderThanMs ?? STALE_OPERATION_MS));
  return getDb().transaction(async (tx) => {
    const stale = await tx
      .select({
        id: registrationOperations.id,
        issuerId: registrationOperations.issuerId,
        appId: registrationOperations.appId,
        environment: registrationOperations.environment,
        request: registrationOperations.request,
        createdAt: registrationOperations.createdAt,
      })
      .from(registrationOperations)
      .where(and(eq(registrationOperations.status, 'in_flight'), lt(registrationOperations.updatedAt, cutoff)))
      .orderBy(asc(registrationOperations.createdAt))
      .limit(500)
      .for('update', { skipLocked: true });
    for (const op of stale) {
      await tx.update(registrationOperations).set({ status: 'outcome_unknown', error: staleError(op), updatedAt: now }).where(eq(registrationOperations.id, op.id));
      await recordAudit(tx, actor, {
        action: 'registration.operation.stale',
        targetType: 'registration_operation',
        targetId: op.id,
        outcome: 'failure',
        details: { issuerId: op.issuerId, appId: op.appId, environment: op.environment, inFlightSince: op.createdAt.toISOString() },
      });
    }
    return stale.map(({ request: _request, ...rest }) => rest);
  });
}


export type OperationGuidance = { tone: 'info' | 'warning' | 'error' | 'success'; headline: string; steps: string[] };

export type OperationView = Awaited<ReturnType<typeof getOperationOrThrow>>;

/** Everything the operation page shows: what is known, and what to do. No secrets (the stored request is masked). */
export async function getOperationOrThrow(actor: Actor, operationId: string, opts: { now?: Date } = {}) {
  assertCanReadOperations(actor);
  if (!isUuid(operationId)) throw new AppError('NOT_FOUND', 'That registration operation does not exist.');
  const [row] = await getDb()
    .select({
      op: registrationOperations,
      appName: apps.name,
      issuerUrl: issuers.issuerUrl,
      issuerInputUrl: issuers.inputUrl,
      endpoints: issuers.endpoints,
      healthSystemName: healthSystems.name,
      resolution: registrationOperationResolutions,
      clientId: registrations.clientId,
    })
    .from(registrationOperations)
    .leftJoin(apps, eq(apps.id, registrationOperations.appId))
    .leftJoin(issuers, eq(issuers.id, registrationOperations.issuerId))
    .leftJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
    .leftJoin(registrationOperationResolutions, eq(registrationOperationResolutions.operationId, registrationOperations.id))
    .leftJoin(registrations, eq(registrations.id, registrationOperations.registrationId))
    .where(eq(registrationOperations.id, operationId))
    .limit(1);
  if (!row) throw new AppError('NOT_FOUND', 'That registration operation does not exist.');
  const { op } = row;
  const now = opts.now ?? new Date();
  const stale = op.status === 'in_flight' && now.getTime() - op.updatedAt.getTime() > STALE_OPERATION_MS;
  const recoveryFile = op.status === 'needs_recovery' ? await findRecoveryFile(op.id) : null;
  const { clientName, softwareId } = clientDescription(op.request);
  const registrationEndpoint = row.endpoints?.registration?.value ?? null;
  const view = {
    id: op.id,
    status: op.status,
    /** In flight for longer than the stale threshold: its process is gone. */
    stale,
    createdAt: op.createdAt.toISOString(),
    updatedAt: op.updatedAt.toISOString(),
    createdBy: op.createdBy,
    environment: op.environment,
    app: { id: op.appId, name: row.appName },
    issuer: { id: op.issuerId, url: row.issuerUrl ?? row.issuerInputUrl, healthSystemName: row.healthSystemName },
    registrationEndpoint,
    clientName,
    softwareId,
    request: op.request,
    error: op.error ? { code: op.error.code, message: op.error.message } : null,
    registration: op.registrationId ? { id: op.registrationId, clientId: row.clientId } : null,
    resolution: row.resolution
      ? {
          outcome: row.resolution.outcome,
          clientId: row.resolution.clientId,
          note: row.resolution.note,
          resolvedBy: row.resolution.resolvedBy,
          resolvedAt: row.resolution.resolvedAt.toISOString(),
          closed: row.resolution.closedAt ? { by: row.resolution.closedBy ?? '', at: row.resolution.closedAt.toISOString(), note: row.resolution.closeNote } : null,
        }
      : null,
    recoveryFile,
  };
  const canWrite = actorCan(actor, 'registrations:write');
  return { ...view, guidance: guidanceFor(view), canResolve: canWrite && (op.status === 'outcome_unknown' || stale), canClose: canWrite && closable(op.status, view.resolution, recoveryFile) };
}

/** An orphan client (the hospital shows it, Registrar never stored it) with nothing left to import: a person can close the operation once the hospital has dealt with it. */
function closable(status: RegistrationOperation['status'], resolution: { outcome: string; closed: unknown } | null, recoveryFile: string | null): boolean {
  return status === 'needs_recovery' && resolution?.outcome === 'registered' && !resolution.closed && !recoveryFile;
}

function guidanceFor(v: {
  status: RegistrationOperation['status'];
  stale: boolean;
  createdAt: string;
  request: Record<string, unknown>;
  registrationEndpoint: string | null;
  error: { code: string; message: string } | null;
  registration: { id: string; clientId: string | null } | null;
  resolution: { outcome: string; clientId: string | null; resolvedBy: string; resolvedAt: string; closed: { by: string; at: string; note: string | null } | null } | null;
  recoveryFile: string | null;
}): OperationGuidance {
  const lookFor = whatToLookFor(v.request);
  const unknown: OperationGuidance = {
    tone: 'warning',
    headline: `Registrar cannot tell whether the hospital registered the client; ${lookFor}.`,
    steps: [
      `The request went to ${v.registrationEndpoint ?? 'the hospital’s registration endpoint'} at ${v.createdAt.slice(0, 19).replace('T', ' ')} UTC, and Registrar never stored an answer.`,
      'Ask the hospital (or look in its administration console) whether a client was created then.',
      'If there is one, record the client id the hospital shows. If there is none, record that nothing was registered, then start a new registration.',
      'Submitting the same form again will not send a second registration: it returns this operation’s outcome.',
    ],
  };
  switch (v.status) {
    case 'pending':
    case 'in_flight':
      return v.stale
        ? unknown
        : { tone: 'info', headline: 'The registration request is in flight.', steps: ['Registrar is waiting for the hospital’s answer or saving it. Reload this page in a minute.'] };
    case 'outcome_unknown':
      return unknown;
    case 'succeeded':
      return { tone: 'success', headline: `Registered: the hospital issued client ${v.registration?.clientId ?? ''}.`.replace(' .', '.'), steps: [] };
    case 'failed':
      if (v.resolution?.closed) {
        const { closed } = v.resolution;
        return {
          tone: 'info',
          headline: `Closed: client ${v.resolution.clientId ?? ''} was dealt with at the hospital.`,
          steps: [`${closed.by} closed this on ${closed.at.slice(0, 16).replace('T', ' ')} UTC${closed.note ? `: “${closed.note}”` : '.'}`, 'Start a new registration from the onboarding page if the app still needs one there.'],
        };
      }
      return v.resolution?.outcome === 'not_registered'
        ? {
            tone: 'info',
            headline: 'Nothing was registered at the hospital.',
            steps: [`${v.resolution.resolvedBy} recorded this on ${v.resolution.resolvedAt.slice(0, 16).replace('T', ' ')} UTC.`, 'Start a new registration from the onboarding page when you are ready.'],
          }
        : { tone: 'error', headline: 'The hospital did not register the client.', steps: [v.error?.message ?? 'The request failed.', 'Correct what the message says and start a new registration.'] };
    case 'needs_recovery':
      if (v.recoveryFile) {
        return {
          tone: 'error',
          headline: 'The hospital registered the client, but Registrar could not save its answer.',
          steps: [`The answer is kept encrypted in ${v.recoveryFile}.`, 'Run `npm run recover` once the database is healthy: it imports the registration and its credentials.'],
        };
      }
      if (v.resolution?.outcome === 'registered') {
        return {
          tone: 'error',
          headline: `The hospital shows client ${v.resolution.clientId ?? ''}, which Registrar holds no record or credentials for.`,
          steps: [
            `${v.resolution.resolvedBy} recorded this on ${v.resolution.resolvedAt.slice(0, 16).replace('T', ' ')} UTC.`,
            'Registrar never stored the hospital’s answer, so any client secret or registration access token it carried is lost.',
            'Ask the hospital to delete that client (or to issue new credentials for it), then start a new registration.',
            'Once the hospital has done so, close this operation: it then no longer waits for a person.',
          ],
        };
      }
      return { tone: 'error', headline: 'This registration needs a person.', steps: [v.error?.message ?? ''] };
  }
}

/**
 * Reconciles one registration operation. Without a resolution it re-checks what Registrar can
 * know by itself: an abandoned in-flight row becomes `outcome_unknown`; a registration or a
 * recovery file for the operation settles it. With a resolution, a person records what the
 * hospital shows for an `outcome_unknown` operation: `not_registered` → `failed`; `registered`
 * (with the client id) → `needs_recovery`, or `succeeded` when Registrar already has that client.
 * Audited in the same transaction. Returns the operation as the page shows it.
 */
export async function reconcileOperation(actor: Actor, raw: ReconcileOperationInput, opts: { now?: Date } = {}): Promise<OperationView> {
  assertCan(actor, 'registrations:write');
  const input = reconcileOperationSchema.parse(raw);
  const now = opts.now ?? new Date();
  const recoveryFile = await findRecoveryFile(input.operationId);
  await getDb().transaction(async (tx) => {
    const [op] = await tx.select().from(registrationOperations).where(eq(registrationOperations.id, input.operationId)).for('update');
    if (!op) throw new AppError('NOT_FOUND', 'That registration operation does not exist.');
    const audit = (action: string, details: Record<string, unknown>) =>
      recordAudit(tx, actor, { action, targetType: 'registration_operation', targetId: op.id, details: { previousStatus: op.status, issuerId: op.issuerId, appId: op.appId, ...details } });
    let status = op.status;

    if (status === 'in_flight' || status === 'pending') {
      if (now.getTime() - op.updatedAt.getTime() <= STALE_OPERATION_MS) {
        throw new AppError('CONFLICT', `This registration is still in flight (since ${op.updatedAt.toISOString()}). Wait ${Math.round(STALE_OPERATION_MS / 60_000)} minutes before reconciling it.`);
      }
      await tx.update(registrationOperations).set({ status: 'outcome_unknown', error: staleError(op), updatedAt: now }).where(eq(registrationOperations.id, op.id));
      await audit('registration.operation.stale', {});
      status = 'outcome_unknown';
    }

    // Registrar may know more than the row says: a registration written for it, or a recovery file.
    const [stored] = await tx.select({ id: registrations.id }).from(registrations).where(eq(registrations.operationId, op.id)).limit(1);
    if (stored && status !== 'succeeded') {
      await tx.update(registrationOperations).set({ status: 'succeeded', registrationId: stored.id, error: null, updatedAt: now }).where(eq(registrationOperations.id, op.id));
      await audit('registration.operation.reconcile', { outcome: 'succeeded', registrationId: stored.id });
      return;
    }
    if (recoveryFile && status !== 'needs_recovery' && status !== 'succeeded') {
      await tx
        .update(registrationOperations)
        .set({ status: 'needs_recovery', error: { code: 'NEEDS_RECOVERY', message: `Registered upstream but not saved; kept in ${recoveryFile}.` }, updatedAt: now })
        .where(eq(registrationOperations.id, op.id));
      await audit('registration.operation.reconcile', { outcome: 'needs_recovery', recoveryFile });
      return;
    }

    const resolution = input.resolution;
    if (!resolution) return;
    if (status !== 'outcome_unknown') {
      throw new AppError('CONFLICT', `This operation is ${status.replace('_', ' ')}: there is no unknown outcome to resolve.`);
    }
    const by = actorLabel(actor);
    const when = now.toISOString().slice(0, 16).replace('T', ' ');
    let next: { status: RegistrationOperation['status']; registrationId?: string; error: RegistrationOperation['error'] };
    if (resolution.outcome === 'not_registered') {
      next = {
        status: 'failed',
        error: { code: 'CONFLICT', message: `${by} checked at the hospital on ${when} UTC: nothing was registered by this submission. It is closed; start a new registration to try again.` },
      };
    } else {
      const [known] = await tx
        .select({ id: registrations.id })
        .from(registrations)
        .where(and(eq(registrations.issuerId, op.issuerId), eq(registrations.clientId, resolution.clientId)))
        .limit(1);
      next = known
        ? { status: 'succeeded', registrationId: known.id, error: null }
        : {
            status: 'needs_recovery',
            error: {
              code: 'NEEDS_RECOVERY',
              message: `${by} found client ${resolution.clientId} at the hospital on ${when} UTC. Registrar never stored the hospital’s answer and holds no credentials for it: ask the hospital to delete it or issue new credentials, then start a new registration.`,
            },
          };
    }
    await tx.insert(registrationOperationResolutions).values({
      operationId: op.id,
      outcome: resolution.outcome,
      clientId: resolution.outcome === 'registered' ? resolution.clientId : null,
      note: input.note,
      resolvedBy: by,
      resolvedAt: now,
    });
    await tx.update(registrationOperations).set({ ...next, updatedAt: now }).where(eq(registrationOperations.id, op.id));
    await audit('registration.operation.resolve', {
      resolution: resolution.outcome,
      ...(resolution.outcome === 'registered' ? { clientId: resolution.clientId } : {}),
      status: next.status,
      ...(next.registrationId ? { registrationId: next.registrationId } : {}),
      ...(input.note ? { note: input.note } : {}),
    });
  });
  return getOperationOrThrow(actor, input.operationId, { now });
}

/**
 * Closes an operation whose client the hospital shows but Registrar never stored (a person recorded
 * it with reconcileOperation), once the hospital has dealt with it — deleted the client or issued
 * new credentials for a new registration: the operation becomes `failed` (this submission stored
 * nothing) with who closed it and why, and leaves the list of operations that need a person.
 * Refused while a recovery file for it exists (`npm run recover` imports its credentials), and for
 * any other state. Audited in the same transaction.
 */
export async function closeOperation(actor: Actor, raw: CloseOperationInput, opts: { now?: Date } = {}): Promise<OperationView> {
  assertCan(actor, 'registrations:write');
  const input = closeOperationSchema.parse(raw);
  const now = opts.now ?? new Date();
  const recoveryFile = await findRecoveryFile(input.operationId);
  await getDb().transaction(async (tx) => {
    const [row] = await tx
      .select({ op: registrationOperations, resolution: registrationOperationResolutions })
      .from(registrationOperations)
      .leftJoin(registrationOperationResolutions, eq(registrationOperationResolutions.operationId, registrationOperations.id))
      .where(eq(registrationOperations.id, input.operationId))
      .for('update', { of: registrationOperations });
    if (!row) throw new AppError('NOT_FOUND', 'That registration operation does not exist.');
    const { op, resolution } = row;
    if (recoveryFile) {
      throw new AppError('CONFLICT', `Registrar still holds this registration’s answer in ${recoveryFile}: import it with \`npm run recover\` instead of closing the operation.`);
    }
    if (!closable(op.status, resolution ? { outcome: resolution.outcome, closed: resolution.closedAt } : null, null)) {
      throw new AppError(
        'CONFLICT',
        resolution?.closedAt
          ? `This operation was already closed by ${resolution.closedBy ?? 'someone'}.`
          : `Only an operation whose client the hospital shows but Registrar never stored can be closed; this one is ${op.status.replace('_', ' ')}.`,
      );
    }
    const by = actorLabel(actor);
    const message = `Closed by ${by} on ${now.toISOString().slice(0, 16).replace('T', ' ')} UTC: client ${resolution!.clientId ?? ''} was dealt with at the hospital${input.note ? ` (${input.note})` : ''}. Registrar stored nothing from this submission.`;
    await tx.update(registrationOperationResolutions).set({ closedBy: by, closedAt: now, closeNote: input.note }).where(eq(registrationOperationResolutions.operationId, op.id));
    await tx.update(registrationOperations).set({ status: 'failed', error: { code: 'CONFLICT', message }, updatedAt: now }).where(eq(registrationOperations.id, op.id));
    await recordAudit(tx, actor, {
      action: 'registration.operation.close',
      targetType: 'registration_operation',
      targetId: op.id,
      details: { previousStatus: op.status, issuerId: op.issuerId, appId: op.appId, clientId: resolution!.clientId, ...(input.note ? { note: input.note } : {}) },
    });
  });
  return getOperationOrThrow(actor, input.operationId, { now });
}

/** The operation a form submission created (by its idempotency key), for linking an error to its page. */
export async function findOperationByIdempotencyKey(actor: Actor, idempotencyKey: string): Promise<{ id: string; status: RegistrationOperation['status'] } | null> {
  assertCan(actor, 'registrations:write');
  const [op] = await getDb()
    .select({ id: registrationOperations.id, status: registrationOperations.status })
    .from(registrationOperations)
    .where(eq(registrationOperations.idempotencyKey, idempotencyKey))
    .limit(1);
  return op ?? null;
}

/** How many operations need a person, for the links to their page (null: the actor may not see them). */
export async function countOperationsNeedingAttention(actor: Actor, opts: { now?: Date } = {}): Promise<number | null> {
  if (!canReadOperations(actor)) return null;
  const cutoff = new Date((opts.now ?? new Date()).getTime() - STALE_OPERATION_MS);
  const [row] = await getDb()
    .select({ n: sql<number>`count(*)::int` })
    .from(registrationOperations)
    .where(sql`${registrationOperations.status} in ('outcome_unknown', 'needs_recovery') or (${registrationOperations.status} = 'in_flight' and ${registrationOperations.updatedAt} < ${cutoff})`);
  return row?.n ?? 0;
}

/** Operations that need a person (unknown outcome, recovery, or abandoned in flight), newest first. */
export async function listOperationsNeedingAttention(actor: Actor, opts: { now?: Date; limit?: number } = {}) {
  assertCanReadOperations(actor);
  const cutoff = new Date((opts.now ?? new Date()).getTime() - STALE_OPERATION_MS);
  return getDb()
    .select({
      id: registrationOperations.id,
      status: registrationOperations.status,
      environment: registrationOperations.environment,
      createdAt: registrationOperations.createdAt,
      createdBy: registrationOperations.createdBy,
      appName: apps.name,
      healthSystemName: healthSystems.name,
    })
    .from(registrationOperations)
    .leftJoin(apps, eq(apps.id, registrationOperations.appId))
    .leftJoin(issuers, eq(issuers.id, registrationOperations.issuerId))
    .leftJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
    .where(
      sql`${registrationOperations.status} in ('outcome_unknown', 'needs_recovery') or (${registrationOperations.status} = 'in_flight' and ${registrationOperations.updatedAt} < ${cutoff})`,
    )
    .orderBy(sql`${registrationOperations.createdAt} desc`)
    .limit(opts.limit ?? 100);
}
