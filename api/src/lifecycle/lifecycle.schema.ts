import { builder } from '../builder.ts';
import { allowed, nullableFloats, payloadOf } from '../graph/fields.ts';
import type { GateVerdict } from './gate.ts';
import type { GoldenQuery } from './golden-queries.repository.ts';
import { VERSION_STATES, type VersionState } from './index-versions.repository.ts';
import type { IndexVersionView } from './lifecycle.service.ts';
import type { RelevanceReport, RelevanceRow } from './relevance-report.ts';

/** Admin GraphQL of the model lifecycle (docs/model-lifecycle.md): what `pixelfind reindex` calls. */

const STATE_DOCS: Record<VersionState, string> = {
  BUILDING: 'The shadow re-index is running; the ACTIVE version serves.',
  READY: 'Built and evaluated; can take a traffic slice and be promoted.',
  ACTIVE: 'Serves every query (but traffic slices). Exactly one at any time.',
  PREVIOUS: 'The last ACTIVE, kept warm for rollback until the rollback window ends.',
  RETIRED: 'Not served; its shard memory is freed (a cancelled re-index ends here too).',
  FAILED: 'The re-index failed; lastError says why.',
};

const IndexVersionStateEnum = builder.enumType('IndexVersionState', {
  description: 'Where a model version is in its lifecycle.',
  values: Object.fromEntries(
    VERSION_STATES.map((state) => [state, { value: state, description: STATE_DOCS[state] }]),
  ) as Record<VersionState, { value: VersionState; description: string }>,
});

const ProgressRef = builder.objectRef<IndexVersionView>('IndexVersionProgress').implement({
  description: 'How far the shadow re-index is.',
  fields: (t) => ({
    done: t.int({ description: 'Images re-embedded so far.', resolve: (v) => v.progress.done }),
    total: t.int({ description: 'Live images to re-embed.', resolve: (v) => v.progress.total }),
    etaSeconds: t.float({
      nullable: true,
      description: 'Seconds left at the rate so far; null unless BUILDING and moving.',
      resolve: (v) => v.etaSeconds,
    }),
  }),
});

const EvaluationRef = builder.objectRef<IndexVersionView>('IndexVersionEvaluation').implement({
  description: "The gate's numbers, measured on this version's model and index and stored with it.",
  fields: (t) => ({
    ...nullableFloats(t, (v) => v.evaluation, {
      goldenRecallAt10:
        'Mean recall@10 over the golden queries (curated and mined); null without golden data.',
      ndcgAt10: 'Mean nDCG@10 over the golden queries; null without golden data.',
      annRecallText: 'Recall@10 of the live index against an exact search of its own vectors, text queries.',
      annRecallImage: 'The same over image queries.',
      similarityFloor:
        'Similarity under which a hit is noise, calibrated on the golden set; null without it.',
    }),
    goldenQueries: t.int({
      description: 'Golden queries scored (curated plus mined from the search log).',
      resolve: (v) => v.evaluation.goldenQueries ?? 0,
    }),
    evaluatedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When these numbers were measured.',
      resolve: (v) => v.evaluation.evaluatedAt,
    }),
  }),
});

const IndexVersionRef = builder.objectRef<IndexVersionView>('IndexVersion').implement({
  description: "One model version's index set: its state, re-index progress, evaluation and traffic.",
  fields: (t) => ({
    modelVersion: t.exposeString('modelVersion', { description: 'The model version (PIXELFIND_MODEL).' }),
    state: t.field({ type: IndexVersionStateEnum, description: 'Lifecycle state.', resolve: (v) => v.state }),
    dimension: t.exposeInt('dimension', { description: "The model's embedding dimension." }),
    progress: t.field({ type: ProgressRef, description: 'Re-index progress.', resolve: (v) => v }),
    evaluation: t.field({
      type: EvaluationRef,
      nullable: true,
      description: 'The stored evaluation; null until the version was evaluated.',
      resolve: (v) => (v.evaluation.evaluatedAt ? v : null),
    }),
    trafficFraction: t.exposeFloat('trafficFraction', {
      description: 'Share of callers (stable per caller) a READY version answers; 0 otherwise.',
    }),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description: 'Why the re-index failed or was cancelled.',
    }),
    createdAt: t.field({ type: 'DateTime', description: 'First recorded.', resolve: (v) => v.createdAt }),
    startedAt: t.expose('startedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the last re-index started.',
    }),
    readyAt: t.expose('readyAt', { type: 'DateTime', nullable: true, description: 'When it became READY.' }),
    promotedAt: t.expose('promotedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it last became ACTIVE.',
    }),
    demotedAt: t.expose('demotedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it last stopped being ACTIVE (the rollback window counts from here).',
    }),
    retiredAt: t.expose('retiredAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it was retired.',
    }),
    updatedAt: t.field({ type: 'DateTime', description: 'Last change.', resolve: (v) => v.updatedAt }),
  }),
});

const GoldenQueryRef = builder.objectRef<GoldenQuery>('GoldenQuery').implement({
  description: 'A curated golden query: a text or a library image, and the images relevant to it.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Pass it to removeGoldenQuery.' }),
    text: t.exposeString('text', {
      nullable: true,
      description: 'The query text (or null for an image query).',
    }),
    imageId: t.exposeID('imageId', {
      nullable: true,
      description: 'The library image queried by (or null for a text query).',
    }),
    relevantIds: t.idList({
      description: 'Images a good answer has in its top 10.',
      resolve: (q) => q.relevantIds,
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When it was added.', resolve: (q) => q.createdAt }),
  }),
});

const GateNumbersRef = builder.objectRef<GateVerdict>('GateVerdict').implement({
  description: "The promotion gate's decision and the numbers it compared.",
  fields: (t) => ({
    passed: t.exposeBoolean('passed', { description: 'True when the version may be promoted unforced.' }),
    failures: t.exposeStringList('failures', { description: 'Why it failed.' }),
    notes: t.exposeStringList('notes', { description: 'What it could not judge (no golden data, ...).' }),
    ...nullableFloats(t, (v) => v.numbers, {
      goldenRecallAt10: "The candidate's golden recall@10.",
      requiredGoldenRecallAt10: "What it had to reach (ratio x the active version's).",
      annRecallText: 'ANN recall@10, text queries.',
      annRecallImage: 'ANN recall@10, image queries.',
    }),
  }),
});

const RelevanceRowRef = builder.objectRef<RelevanceRow>('RelevanceRow').implement({
  description: 'Click-through and save rate of the searches one model version and ranker version served.',
  fields: (t) => ({
    start: t.field({
      type: 'DateTime',
      description: 'Start of the hour or day (UTC).',
      resolve: (r) => r.start,
    }),
    modelVersion: t.exposeString('modelVersion', { description: 'The model version that served.' }),
    rankerVersion: t.exposeString('rankerVersion', { description: 'The ranker version that ranked.' }),
    queries: t.exposeInt('queries', { description: 'Searches logged.' }),
    clickedQueries: t.exposeInt('clickedQueries', { description: 'Searches with at least one click.' }),
    savedQueries: t.exposeInt('savedQueries', {
      description: 'Searches one of whose results was saved within the hour.',
    }),
    clickThroughRate: t.exposeFloat('clickThroughRate', { description: 'clickedQueries / queries.' }),
    saveRate: t.exposeFloat('saveRate', { description: 'savedQueries / queries.' }),
  }),
});

const RelevanceReportRef = builder.objectRef<RelevanceReport>('RelevanceReport').implement({
  description: 'The search log grouped by the versions that served, per hour, per day and in total.',
  fields: (t) => ({
    window: t.exposeString('window', { description: 'The window asked for.' }),
    since: t.field({ type: 'DateTime', description: 'Start of the window.', resolve: (r) => r.since }),
    hourly: t.field({ type: [RelevanceRowRef], description: 'Per hour.', resolve: (r) => r.hourly }),
    daily: t.field({ type: [RelevanceRowRef], description: 'Per day.', resolve: (r) => r.daily }),
    totals: t.field({ type: [RelevanceRowRef], description: 'The whole window.', resolve: (r) => r.totals }),
  }),
});

const AS_IT_IS_NOW = { type: IndexVersionRef, description: 'The version as it is now.' };
const versionPayload = (name: string, description: string) =>
  payloadOf(name, description, 'indexVersion', AS_IT_IS_NOW);

const StartReindexPayload = versionPayload('StartReindexPayload', 'The version now BUILDING.');
const CancelReindexPayload = versionPayload('CancelReindexPayload', 'The cancelled (RETIRED) version.');
const RollbackIndexPayload = versionPayload('RollbackIndexPayload', 'The version ACTIVE again.');
const SetIndexTrafficPayload = versionPayload('SetIndexTrafficPayload', 'The READY version with its slice.');
const PromoteIndexPayload = builder
  .objectRef<{ indexVersion: IndexVersionView; forced: boolean }>('PromoteIndexPayload')
  .implement({
    description: 'The version now ACTIVE.',
    fields: (t) => ({
      indexVersion: t.field({ ...AS_IT_IS_NOW, resolve: (p) => p.indexVersion }),
      gate: t.field({
        type: GateNumbersRef,
        nullable: true,
        description: 'The gate verdict stored at promotion.',
        resolve: (p) => (p.indexVersion.evaluation.detail?.gate as GateVerdict | undefined) ?? null,
      }),
    }),
  });
const AddGoldenQueryPayload = payloadOf('AddGoldenQueryPayload', 'The golden query added.', 'goldenQuery', {
  type: GoldenQueryRef,
  description: 'As stored.',
});
const RemoveGoldenQueryPayload = builder
  .objectRef<{ id: string; removed: boolean }>('RemoveGoldenQueryPayload')
  .implement({
    description: 'The golden query removed.',
    fields: (t) => ({
      id: t.exposeID('id', { description: 'Its id.' }),
      removed: t.exposeBoolean('removed', { description: 'True.' }),
    }),
  });

const MODEL_VERSION_ARG = 'The model version (as PIXELFIND_MODEL names it).';

builder.queryFields((t) => ({
  indexVersions: t.field({
    type: [IndexVersionRef],
    description: 'Admins: every model version recorded, oldest first.',
    resolve: allowed('admin', async (_args, ctx) => ctx.services.lifecycle.list()),
  }),
  goldenQueries: t.field({
    type: [GoldenQueryRef],
    description: 'Admins: the curated golden queries the promotion gate scores.',
    resolve: allowed('admin', async (_args, ctx) => ctx.services.lifecycle.goldenQueries()),
  }),
  relevanceReport: t.field({
    type: RelevanceReportRef,
    description: 'Admins: click-through and save rate per model version and ranker version.',
    args: {
      window: t.arg.string({ required: true, description: 'How far back: `1h`, `24h`, `7d` (at most 90d).' }),
    },
    resolve: allowed('admin', async (args, ctx) => ctx.services.lifecycle.relevanceReport(args.window)),
  }),
}));

builder.mutationFields((t) => {
  /** startReindex and cancelReindex: an admin acts on one model version and gets it back. */
  const onVersion = (
    type: typeof StartReindexPayload,
    description: string,
    act: 'startReindex' | 'cancelReindex',
  ) =>
    t.field({
      type,
      description,
      args: { modelVersion: t.arg.string({ required: true, description: MODEL_VERSION_ARG }) },
      resolve: allowed('admin', async (args, ctx) => ({
        indexVersion: await ctx.services.lifecycle[act](args.modelVersion, ctx.caller),
      })),
    });
  return {
    startReindex: onVersion(
      StartReindexPayload,
      'Admins: starts the shadow re-index to a model version while the ACTIVE one serves.',
      'startReindex',
    ),
    cancelReindex: onVersion(
      CancelReindexPayload,
      'Admins: stops a re-index in progress (the version becomes RETIRED).',
      'cancelReindex',
    ),
    promoteIndex: t.field({
      type: PromoteIndexPayload,
      description:
        'Admins: makes a READY version ACTIVE (query encoder and index together). Refuses with GATE_FAILED and the numbers when the gate fails, unless forced.',
      args: {
        modelVersion: t.arg.string({ required: true, description: MODEL_VERSION_ARG }),
        force: t.arg.boolean({
          required: false,
          defaultValue: false,
          description: 'Promote although the gate fails (logged). Default false.',
        }),
      },
      resolve: allowed('admin', async (args, ctx) => {
        const force = args.force ?? false;
        const indexVersion = await ctx.services.lifecycle.promoteIndex(args.modelVersion, force, ctx.caller);
        return { indexVersion, forced: force };
      }),
    }),
    rollbackIndex: t.field({
      type: RollbackIndexPayload,
      description: 'Admins: makes the PREVIOUS version ACTIVE again at once (while it is warm).',
      resolve: allowed('admin', async (_args, ctx) => ({
        indexVersion: await ctx.services.lifecycle.rollbackIndex(ctx.caller),
      })),
    }),
    setIndexTraffic: t.field({
      type: SetIndexTrafficPayload,
      description: 'Admins: sends a fraction of searches (stable per caller) to a READY version.',
      args: {
        modelVersion: t.arg.string({ required: true, description: MODEL_VERSION_ARG }),
        fraction: t.arg.float({ required: true, description: 'Between 0 (none) and 1 (every caller).' }),
      },
      resolve: allowed('admin', async (args, ctx) => {
        return {
          indexVersion: await ctx.services.lifecycle.setIndexTraffic(args.modelVersion, args.fraction),
        };
      }),
    }),
    addGoldenQuery: t.field({
      type: AddGoldenQueryPayload,
      description: 'Admins: adds a curated golden query (exactly one of text or imageId).',
      args: {
        text: t.arg.string({ required: false, description: 'A text query.' }),
        imageId: t.arg.id({ required: false, description: 'A library image to query by.' }),
        relevantIds: t.arg.idList({ required: true, description: 'The images relevant to it (1 to 1000).' }),
      },
      resolve: allowed('admin', async (args, ctx) => {
        const goldenQuery = await ctx.services.lifecycle.addGoldenQuery(
          {
            text: args.text ?? null,
            imageId: args.imageId === null || args.imageId === undefined ? null : String(args.imageId),
            relevantIds: args.relevantIds.map(String),
          },
          ctx.caller,
        );
        return { goldenQuery };
      }),
    }),
    removeGoldenQuery: t.field({
      type: RemoveGoldenQueryPayload,
      description: 'Admins: removes a curated golden query.',
      args: { id: t.arg.id({ required: true, description: 'GoldenQuery.id' }) },
      resolve: allowed('admin', async (args, ctx) => {
        await ctx.services.lifecycle.removeGoldenQuery(String(args.id));
        return { id: String(args.id), removed: true };
      }),
    }),
  };
});
