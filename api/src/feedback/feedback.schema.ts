import { authorize, authorizeSaveFor } from '../auth/authorize.ts';
import { builder } from '../builder.ts';
import { clientAddressOf } from '../edge-trust/use-edge-trust.ts';
import type { ImageRecord } from '../images/image.types.ts';
import { ImageRef } from '../images/images.schema.ts';
import { callerRefOf } from './caller-ref.ts';

const RecordClickPayload = builder.objectRef<{ position: number }>('RecordClickPayload').implement({
  fields: (t) => ({
    ok: t.boolean({ resolve: () => true }),
    position: t.exposeInt('position', { description: "0-based index of the image in the query's results." }),
  }),
});

const SaveImagePayload = builder.objectRef<{ image: ImageRecord }>('SaveImagePayload').implement({
  fields: (t) => ({
    image: t.field({ type: ImageRef, resolve: (payload) => payload.image }),
  }),
});

builder.mutationFields((t) => ({
  recordClick: t.field({
    type: RecordClickPayload,
    description:
      "Records a click on a search result. It counts once per (query, image), only from the caller that ran the query, only for a live image; clicking again answers the same position. BAD_USER_INPUT when the query did not show the image, NOT_FOUND for an unknown query or another caller's, RATE_LIMITED past the per-caller click limit.",
    args: {
      queryId: t.arg.id({ required: true, description: 'The queryId a search returned.' }),
      imageId: t.arg.id({ required: true }),
    },
    resolve: async (_root, args, ctx) => {
      authorize(ctx.caller, 'click', ctx.services.policy);
      const callerRef = callerRefOf(
        ctx.caller,
        clientAddressOf(ctx.request),
        ctx.services.config.edgeSigningKey,
      );
      return ctx.services.feedback.recordClick(String(args.queryId), String(args.imageId), callerRef);
    },
  }),
  saveImage: t.field({
    type: SaveImagePayload,
    description: 'Saves an image for a user; saving it again changes nothing. NOT_FOUND for a deleted image.',
    args: {
      imageId: t.arg.id({ required: true }),
      userId: t.arg.id({ required: true }),
    },
    resolve: async (_root, args, ctx) => {
      const userId = String(args.userId);
      authorizeSaveFor(ctx.caller, userId, ctx.services.policy);
      const { image } = await ctx.services.feedback.saveImage(String(args.imageId), userId);
      return { image };
    },
  }),
}));
