import { authorize, ownerForLookup, uploaderOf } from '../auth/authorize.ts';
import { builder } from '../builder.ts';
import { badInput } from '../errors.ts';
import { inputMutation } from '../graph/fields.ts';
import type { ImageRecord, ImageStatus, TagRecord, TagSource } from './image.types.ts';
import { parseImageId } from './image-id.ts';
import { canViewImage } from './visibility.ts';

const STATUS_DESCRIPTIONS: Record<ImageStatus, string> = {
  PENDING: 'Stored and queued; not yet searchable.',
  INDEXED: 'Searchable.',
  REJECTED: 'Refused by the safety check or the content blocklist; never shown to the public.',
  FAILED: 'Indexing gave up after its retries.',
  DELETED: 'Deleted by its uploader or a moderator.',
};

export const ImageStatusEnum = builder.enumType('ImageStatus', {
  description: 'Where an image is on its way from upload to search results.',
  values: Object.fromEntries(
    Object.entries(STATUS_DESCRIPTIONS).map(([status, description]) => [
      status,
      { value: status, description },
    ]),
  ) as Record<ImageStatus, { value: ImageStatus; description: string }>,
});

/** GraphQL names of the stored tag sources (`tags.source`); REST keeps the stored strings. */
const TAG_SOURCE_VALUES: Record<
  'USER' | 'CLIP_ZERO_SHOT' | 'MODERATOR',
  { value: TagSource; description: string }
> = {
  USER: { value: 'user', description: 'Given by the uploader (tagsHint).' },
  CLIP_ZERO_SHOT: { value: 'clip-zero-shot', description: 'Found by the zero-shot tagger at indexing.' },
  MODERATOR: { value: 'moderator', description: 'Set by a moderator.' },
};

export const TagSourceEnum = builder.enumType('TagSource', {
  description: 'Where a tag comes from.',
  values: TAG_SOURCE_VALUES,
});

export const TagRef = builder.objectRef<TagRecord>('Tag').implement({
  description: 'A label on an image, from the uploader, the zero-shot tagger or a moderator.',
  fields: (t) => ({
    label: t.exposeString('label', { description: 'The label, lower case.' }),
    confidence: t.exposeFloat('confidence', {
      description: 'In [0, 1]: 1 for user and moderator tags, the tagger score otherwise.',
    }),
    source: t.field({ type: TagSourceEnum, description: 'Who set it.', resolve: (tag) => tag.source }),
  }),
});

export const ImageRef = builder.objectRef<ImageRecord>('Image').implement({
  description: 'An uploaded image and what indexing found out about it.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The image id (decimal digits).' }),
    storageUrl: t.string({
      description: 'Where the original bytes can be fetched.',
      resolve: (image, _args, ctx) => ctx.services.blobUrl(image.storage_url),
    }),
    width: t.exposeInt('width', { description: 'Width in pixels.' }),
    height: t.exposeInt('height', { description: 'Height in pixels.' }),
    status: t.field({
      type: ImageStatusEnum,
      description: 'Where it is between upload and search results.',
      resolve: (image) => (image.deleted_at ? 'DELETED' : image.status),
    }),
    createdAt: t.field({
      type: 'DateTime',
      description: 'When it was uploaded.',
      resolve: (image) => image.created_at,
    }),
    uploaderId: t.exposeID('uploader_id', {
      description: "Who uploaded it: the key's owner, or anonymous:<hex> for an anonymous caller.",
    }),
    tags: t.field({
      type: [TagRef],
      description: 'Its labels, most confident first.',
      resolve: (image, _args, ctx) => ctx.loaders.tagsByImageId.load(image.id),
    }),
  }),
});

const MAX_IDS = 100;

builder.queryFields((t) => ({
  image: t.field({
    type: ImageRef,
    nullable: true,
    description:
      'An image by id; null when there is none, or when the caller may not see it (not yet indexed, rejected, failed, flagged or deleted: only its uploader and moderators see those).',
    args: { id: t.arg.id({ required: true, description: 'The image id.' }) },
    resolve: async (_root, args, ctx) => {
      authorize(ctx.caller, 'read', ctx.services.policy);
      const id = parseImageId(String(args.id));
      const image = await ctx.loaders.imageById.load(id);
      // the same answer as for an id that never existed: ids reveal nothing
      return image && canViewImage(image, ctx.caller) ? image : null;
    },
  }),
  images: t.field({
    type: [ImageRef],
    nullable: { list: false, items: true },
    description: `Images by id, in the order asked, null where there is none or the caller may not see it (at most ${MAX_IDS} ids).`,
    args: { ids: t.arg.idList({ required: true, description: `At most ${MAX_IDS} image ids.` }) },
    resolve: async (_root, args, ctx) => {
      authorize(ctx.caller, 'read', ctx.services.policy);
      if (args.ids.length > MAX_IDS)
        throw badInput(`Expected at most ${MAX_IDS} ids but received ${args.ids.length}`);
      const ids = args.ids.map((id) => parseImageId(String(id), 'ids'));
      const images = await ctx.loaders.imageById.loadMany(ids);
      return images.map((image) =>
        image instanceof Error || !image || !canViewImage(image, ctx.caller) ? null : image,
      );
    },
  }),
  imagesBySha256: t.field({
    type: [ImageRef],
    nullable: { list: false, items: true },
    description: `The caller's own live uploads with these SHA-256 hashes, in the order asked, null where the caller uploaded none (at most ${MAX_IDS}). Other uploaders' images are never matched. What \`pixelfind ingest\` uses to skip files already sent.`,
    args: {
      sha256: t.arg.stringList({
        required: true,
        description: 'Hashes of the file bytes, 64 hex digits each.',
      }),
    },
    resolve: async (_root, args, ctx) => {
      const owner = ownerForLookup(ctx.caller);
      if (args.sha256.length > MAX_IDS)
        throw badInput(`Expected at most ${MAX_IDS} hashes but received ${args.sha256.length}`);
      return ctx.services.upload.ownBySha256(owner, args.sha256);
    },
  }),
}));

const UploadImageInput = builder.inputType('UploadImageInput', {
  description:
    "An image to upload. The uploader is the caller: the key's owner, or for anonymous callers an id derived from their address.",
  fields: (t) => ({
    file: t.field({ type: 'Upload', required: true, description: 'The image (JPEG, PNG, WebP, GIF).' }),
    tagsHint: t.stringList({
      required: false,
      description:
        'Labels from the uploader (at most 50, each at most 64 characters); stored with source USER.',
    }),
  }),
});

const UploadImagePayload = builder
  .objectRef<{ image: ImageRecord; created: boolean }>('UploadImagePayload')
  .implement({
    description: 'The uploaded image (PENDING until indexed).',
    fields: (t) => ({
      image: t.field({
        type: ImageRef,
        description: 'The image, new or existing.',
        resolve: (payload) => payload.image,
      }),
      created: t.exposeBoolean('created', {
        description:
          'True for a new image, false when the same bytes from the same uploader returned an existing one.',
      }),
    }),
  });

inputMutation('uploadImage', {
  type: UploadImagePayload,
  description:
    'Stores an image and queues it for indexing; answers PENDING at once. The same bytes from the same uploader return the existing image.',
  input: UploadImageInput,
  inputDescription: 'The file and its hints.',
  resolve: async (input, ctx) => {
    const uploaderId = uploaderOf(ctx.caller, ctx.services.policy);
    const { image, created } = await ctx.services.upload.upload({
      file: input.file,
      uploaderId,
      tagsHint: input.tagsHint,
    });
    return { image, created };
  },
});
