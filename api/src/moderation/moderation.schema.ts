import { builder } from '../builder.ts';
import { inputMutation } from '../graph/fields.ts';

const FlagImageInput = builder.inputType('FlagImageInput', {
  description: 'An image to put on the safety blocklist.',
  fields: (t) => ({
    imageId: t.id({ required: true, description: 'The image to flag.' }),
    reason: t.string({ required: true, description: 'Why, for the moderation log.' }),
  }),
});

const FlagImagePayload = builder.objectRef<{ image: { id: string } }>('FlagImagePayload').implement({
  description: 'The flagged image.',
  fields: (t) => ({
    imageId: t.id({ description: 'The image that was flagged.', resolve: (p) => p.image.id }),
  }),
});

const DeleteImageInput = builder.inputType('DeleteImageInput', {
  description: 'An image to delete.',
  fields: (t) => ({ imageId: t.id({ required: true, description: 'The image to delete.' }) }),
});

const DeleteImagePayload = builder.objectRef<{ id: string }>('DeleteImagePayload').implement({
  description: 'The deleted image.',
  fields: (t) => ({
    imageId: t.exposeID('id', { description: 'The image that was deleted.' }),
    deleted: t.boolean({ description: 'Always true: a refused delete is an error.', resolve: () => true }),
  }),
});

inputMutation('flagImage', {
  type: FlagImagePayload,
  description: 'Moderators: puts an image on the safety blocklist. It disappears from the next query on.',
  input: FlagImageInput,
  inputDescription: 'The image and the reason.',
  action: 'flag',
  resolve: async (input, ctx) => {
    const image = await ctx.services.moderation.flag(String(input.imageId), input.reason, ctx.caller);
    return { image };
  },
});

inputMutation('deleteImage', {
  type: DeleteImagePayload,
  description:
    'The uploader (or a moderator): removes the image from results at once, then from shards and storage.',
  input: DeleteImageInput,
  inputDescription: 'The image to delete.',
  action: 'delete',
  resolve: async (input, ctx) => {
    const image = await ctx.services.moderation.remove(String(input.imageId), ctx.caller);
    ctx.loaders.imageById.clear(image.id);
    return { id: image.id };
  },
});
