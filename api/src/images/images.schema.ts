import { authorize, authorizeUploadAs } from '../auth/authorize.ts';
import { builder } from '../builder.ts';
import { clientAddressOf } from '../edge-trust/use-edge-trust.ts';
import { badInput } from '../errors.ts';
import { anonymousUploaderId } from '../upload/anonymous-uploader.ts';
import { parseUploaderId } from '../upload/upload-input.ts';
import { IMAGE_STATUSES, type ImageRecord, TAG_SOURCES, type TagRecord } from './image.types.ts';
import { parseImageId } from './image-id.ts';
import { canViewImage } from './visibility.ts';

export const ImageStatusEnum = builder.enumType('ImageStatus', {
  description: 'Where an image is on its way from upload to search results.',
  values: Object.fromEntries(IMAGE_STATUSES.map((s) => [s, { value: s }])) as Record<
    (typeof IMAGE_STATUSES)[number],
    { value: (typeof IMAGE_STATUSES)[number] }
  >,
});

export const TagRef = builder.objectRef<TagRecord>('Tag').implement({
  description: 'A label on an image, from the uploader, the zero-shot tagger or a moderator.',
  fields: (t) => ({
    label: t.exposeString('label'),
    confidence: t.exposeFloat('confidence'),
    source: t.string({
      description: `One of ${TAG_SOURCES.join(', ')}.`,
      resolve: (tag) => tag.source,
    }),
  }),
});

export const ImageRef = builder.objectRef<ImageRecord>('Image').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    storageUrl: t.string({
      description: 'Where the original bytes can be fetched.',
      resolve: (image, _args, ctx) => ctx.services.blobUrl(image.storage_url),
    }),
    width: t.exposeInt('width'),
    height: t.exposeInt('height'),
    status: t.field({
      type: ImageStatusEnum,
      resolve: (image) => (image.deleted_at ? 'DELETED' : image.status),
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (image) => image.created_at }),
    uploaderId: t.exposeID('uploader_id'),
    tags: t.field({
      type: [TagRef],
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
    args: { id: t.arg.id({ required: true }) },
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
    args: { ids: t.arg.idList({ required: true }) },
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
}));

const UploadImagePayload = builder
  .objectRef<{ image: ImageRecord; created: boolean }>('UploadImagePayload')
  .implement({
    fields: (t) => ({
      image: t.field({ type: ImageRef, resolve: (payload) => payload.image }),
      created: t.exposeBoolean('created', {
        description:
          'True for a new image, false when the same bytes from the same uploader returned an existing one.',
      }),
    }),
  });

builder.mutationFields((t) => ({
  uploadImage: t.field({
    type: UploadImagePayload,
    description:
      'Stores an image and queues it for indexing; answers PENDING at once. The same bytes from the same uploader return the existing image.',
    args: {
      file: t.arg({ type: 'Upload', required: true }),
      uploaderId: t.arg.id({
        required: true,
        description:
          "The uploader: the key's owner for user keys; ignored for anonymous callers, whose uploads get an id derived from their address.",
      }),
      tagsHint: t.arg.stringList({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      let uploaderId = String(args.uploaderId);
      authorizeUploadAs(ctx.caller, uploaderId, ctx.services.policy);
      // anonymous: the id comes from the caller's address; the one sent is checked, then ignored
      if (ctx.caller.role === 'anonymous') {
        parseUploaderId(uploaderId);
        uploaderId = anonymousUploaderId(clientAddressOf(ctx.request), ctx.services.config.edgeSigningKey);
      }
      const { image, created } = await ctx.services.upload.upload({
        file: args.file,
        uploaderId,
        tagsHint: args.tagsHint,
      });
      return { image, created };
    },
  }),
}));
