import { builder } from '../builder.ts';
import { clientAddressOf, edgeChannel } from '../edge-trust/use-edge-trust.ts';
import { callerRefOf } from '../feedback/caller-ref.ts';
import { inputQuery } from '../graph/fields.ts';
import { ImageRef } from '../images/images.schema.ts';
import { markSliced } from '../lifecycle/use-slice-no-store.ts';
import type { SearchHit, SearchOutcome } from './search.service.ts';
import { MAX_LIMIT, MAX_OFFSET } from './search-input.ts';

const FusionEnum = builder.enumType('Fusion', {
  description: 'How a text+image query is combined.',
  values: {
    EARLY: {
      value: 'EARLY',
      description: 'One search with the weighted sum of both embeddings, renormalised.',
    },
    LATE: {
      value: 'LATE',
      description: 'One search per modality, merged by textWeight * s_text + (1 - textWeight) * s_image.',
    },
  } as const,
});

const SearchInputRef = builder.inputType('SearchInput', {
  description: 'Text, a reference image (one of image, imageUrl, imageId), or both.',
  fields: (t) => ({
    text: t.string({
      required: false,
      description: 'Words to search for (at most the text limit in tokens).',
    }),
    imageUrl: t.string({
      required: false,
      description: 'An http(s) URL the API fetches (public hosts only).',
    }),
    imageId: t.id({ required: false, description: 'An indexed image to search like.' }),
    image: t.field({
      type: 'Upload',
      required: false,
      description: 'An uploaded reference image (multipart).',
    }),
    textWeight: t.float({
      required: false,
      description: 'alpha in [0, 1]: the text side weight. Default 0.5.',
    }),
    fusion: t.field({ type: FusionEnum, required: false, description: 'Default EARLY.' }),
    labels: t.stringList({ required: false, description: 'Only images carrying every one of these labels.' }),
    limit: t.int({ required: false, description: `Default 20, at most ${MAX_LIMIT}.` }),
    offset: t.int({ required: false, description: `Default 0, at most ${MAX_OFFSET}.` }),
    minSimilarity: t.float({
      required: false,
      description:
        'The lowest cosine similarity a hit may have, in [-1, 1]; replaces the model version floor and the ' +
        'adaptive cut. Default: the floor of the model version, raised for text queries to the best hit ' +
        "minus the model's adaptive margin.",
    }),
  }),
});

const SignalsRef = builder.objectRef<SearchHit['signals']>('RankingSignals').implement({
  description: 'What a hit score is made of.',
  fields: (t) => ({
    similarity: t.exposeFloat('similarity', { description: 'Cosine similarity to the query embedding.' }),
    engagement: t.exposeFloat('engagement', {
      description: 'Smoothed click-through and save rate in [0, 1].',
    }),
    recency: t.exposeFloat('recency', { description: 'Age decay in [0, 1].' }),
  }),
});

const SearchHitRef = builder.objectRef<SearchHit>('SearchHit').implement({
  description: 'One result: an indexed image and why it ranks where it does.',
  fields: (t) => ({
    image: t.field({ type: ImageRef, description: 'The image found.', resolve: (hit) => hit.image }),
    score: t.exposeFloat('score', {
      description: 'The ranking score: similarity blended with engagement and recency.',
    }),
    similarity: t.exposeFloat('similarity', { description: 'Cosine similarity to the query embedding.' }),
    signals: t.field({
      type: SignalsRef,
      description: 'The parts of the score.',
      resolve: (hit) => hit.signals,
    }),
  }),
});

const SearchResultRef = builder.objectRef<SearchOutcome>('SearchResult').implement({
  description: 'One page of search results.',
  fields: (t) => ({
    queryId: t.exposeID('queryId', { description: 'Pass it to recordClick.' }),
    modelVersion: t.exposeString('modelVersion', { description: 'The embedding model that answered.' }),
    partial: t.exposeBoolean('partial', {
      description: 'A shard did not answer in time: results may miss some images.',
    }),
    tookMs: t.exposeFloat('tookMs', { description: 'Time the API spent on the search, in milliseconds.' }),
    hits: t.field({ type: [SearchHitRef], description: 'Best first.', resolve: (result) => result.hits }),
    hasNextPage: t.exposeBoolean('hasNextPage', {
      description: 'More results follow: ask again with offset = nextOffset.',
    }),
    nextOffset: t.exposeInt('nextOffset', {
      nullable: true,
      description: 'The offset of the next page; null on the last page.',
    }),
    nothingRelevant: t.exposeBoolean('nothingRelevant', {
      description:
        'True when no image is similar enough to the query to be relevant (or none the filters allow): ' +
        'hits is empty on every page. Say "nothing relevant" rather than showing loose matches.',
    }),
    minSimilarity: t.float({
      description:
        'The similarity a hit needed: minSimilarity of the input, or the model version floor, raised for ' +
        'text queries by the adaptive cut.',
      resolve: (result) => result.relevance.minSimilarity,
    }),
  }),
});

inputQuery('search', {
  type: SearchResultRef,
  description:
    'Searches indexed images by text, by a reference image, or both. Only images the public may see are returned.',
  input: SearchInputRef,
  inputDescription: 'What to search for and how.',
  action: 'search',
  resolve: async (input, ctx) => {
    if (input.imageUrl) {
      // one outbound fetch per request, and a budget per caller (docs/security.md)
      const caller = ctx.caller.keyId
        ? `key:${ctx.caller.keyId}`
        : `addr:${clientAddressOf(ctx.request) ?? 'in-process'}`;
      await ctx.services.rateLimits.admitFetch(ctx.request, caller);
    }
    // the service records the stage metrics and talks to the edge (any entry point gets both)
    const outcome = await ctx.services.search.search(
      { ...input, imageId: input.imageId == null ? null : String(input.imageId) },
      {
        loaders: ctx.loaders,
        caller: ctx.caller,
        edge: edgeChannel(ctx.request),
        callerRef: callerRefOf(ctx.caller, clientAddressOf(ctx.request), ctx.services.config.edgeSigningKey),
      },
    );
    if (outcome.modelVersion !== ctx.services.serving.activeModelVersion()) markSliced(ctx.request);
    return outcome;
  },
});
