import { saverOf } from '../auth/authorize.ts';
import { builder } from '../builder.ts';
import { clientAddressOf } from '../edge-trust/use-edge-trust.ts';
import { inputMutation, payloadOf } from '../graph/fields.ts';
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

const SaveImagePayload = payloadOf('SaveImagePayload', 'The saved image.', 'image', {
  type: ImageRef,
  description: 'The image that was saved.',
});

inputMutation('recordClick', {
  type: RecordClickPayload,
  description:
    "Records a click on a search result. It counts once per (query, image), only from the caller that ran the query, only for a live image; clicking again answers the same position. BAD_USER_INPUT when the query did not show the image, NOT_FOUND for an unknown query or another caller's, RATE_LIMITED past the per-caller click limit.",
  input: RecordClickInput,
  inputDescription: 'The query and the image.',
  action: 'click',
  resolve: (input, ctx) => {
    const callerRef = callerRefOf(
      ctx.caller,
      clientAddressOf(ctx.request),
      ctx.services.config.edgeSigningKey,
    );
    return ctx.services.feedback.recordClick(String(input.queryId), String(input.imageId), callerRef);
  },
});

inputMutation('saveImage', {
  type: SaveImagePayload,
  description:
    "Saves an image for the caller (the key's owner); saving it again changes nothing. NOT_FOUND for a deleted image.",
  input: SaveImageInput,
  inputDescription: 'The image to save.',
  resolve: async (input, ctx) => {
    const userId = saverOf(ctx.caller, ctx.services.policy);
    const { image } = await ctx.services.feedback.saveImage(String(input.imageId), userId);
    return { image };
  },
});
