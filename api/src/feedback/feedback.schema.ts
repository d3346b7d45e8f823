import { authorize, saverOf } from '../auth/authorize.ts';
import { builder } from '../builder.ts';
import { clientAddressOf } from '../edge-trust/use-edge-trust.ts';
import type { ImageRecord } from '../images/image.types.ts';
import { ImageRef } from '../images/images.schema.ts';
import { callerRefOf } from './caller-ref.ts';

const RecordClickInput = builder.inputType('RecordClickInput', {
  description: 'A click on a search result.',
  fields: (t) => ({
    queryId: t.id({ required: true, description: 'The queryId a search returned.' }),
    imageId: t.id({ required: true, description: 'The image that was opened; it must be in that result.' }),
  }),
});

const RecordClickPayload = builder.objectRef<{ position: number }>('RecordClickPayload').implement({
  description: 'The recorded click.',
  fields: (t) => ({
    ok: t.boolean({ description: 'Always true: a refused click is an error.', resolve: () => true }),
    position: t.exposeInt('position', { description: "0-based index of the image in the query's results." }),
  }),
});

const SaveImageInput = builder.inputType('SaveImageInput', {
  description: "An image to save for the caller (the key's owner).",
  fields: (t) => ({ imageId: t.id({ required: true, description: 'The image to save.' }) }),
});

const SaveImagePayload = builder.objectRef<{ image: ImageRecord }>('SaveImagePayload').implement({
  description: 'The saved image.',
  fields: (t) => ({
    image: t.field({
      type: ImageRef,
      description: 'The image that was saved.',
      resolve: (payload) => payload.image,
    }),
  }),
});

builder.mutationFields((t) => ({
  recordClick: t.field({
    type: RecordClickPayload,
    description:
      "Records a click on a search result. It counts once per (query, image), only from the caller that ran the query, only for a live image; clicking again answers the same position. BAD_USER_INPUT when the query did not show the image, NOT_FOUND for an unknown query or another caller's, RATE_LIMITED past the per-caller click limit.",
    args: {
      input: t.arg({ type: RecordClickInput, required: true, description: 'The query and the image.' }),
    },
    resolve: async (_root, { input }, ctx) => {
      authorize(ctx.caller, 'click', ctx.services.policy);
      const callerRef = callerRefOf(
        ctx.caller,
        clientAddressOf(ctx.request),
        ctx.services.config.edgeSigningKey,
      );
      return ctx.services.feedback.recordClick(String(input.queryId), String(input.imageId), callerRef);
    },
  }),
  saveImage: t.field({
    type: SaveImagePayload,
    description:
      "Saves an image for the caller (the key's owner); saving it again changes nothing. NOT_FOUND for a deleted image.",
    args: { input: t.arg({ type: SaveImageInput, required: true, description: 'The image to save.' }) },
    resolve: async (_root, { input }, ctx) => {
      const userId = saverOf(ctx.caller, ctx.services.policy);
      const { image } = await ctx.services.feedback.saveImage(String(input.imageId), userId);
      return { image };
    },
  }),
}));
