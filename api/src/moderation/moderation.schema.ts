import { authorize } from '../auth/authorize.ts';
import { builder } from '../builder.ts';

const FlagImagePayload = builder.objectRef<{ image: { id: string } }>('FlagImagePayload').implement({
  fields: (t) => ({ imageId: t.id({ resolve: (p) => p.image.id }) }),
});

const DeleteImagePayload = builder.objectRef<{ id: string }>('DeleteImagePayload').implement({
  fields: (t) => ({ imageId: t.exposeID('id'), deleted: t.boolean({ resolve: () => true }) }),
});

builder.mutationFields((t) => ({
  flagImage: t.field({
    type: FlagImagePayload,
    description: 'Moderators: puts an image on the safety blocklist. It disappears from the next query on.',
    args: { id: t.arg.id({ required: true }), reason: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      authorize(ctx.caller, 'flag', ctx.services.policy);
      const image = await ctx.services.moderation.flag(String(args.id), args.reason, ctx.caller);
      return { image };
    },
  }),
  deleteImage: t.field({
    type: DeleteImagePayload,
    description:
      'The uploader (or a moderator): removes the image from results at once, then from shards and storage.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      authorize(ctx.caller, 'delete', ctx.services.policy);
      const image = await ctx.services.moderation.remove(String(args.id), ctx.caller);
      ctx.loaders.imageById.clear(image.id);
      return { id: image.id };
    },
  }),
}));
