import type { InputObjectRef, ObjectRef } from '@pothos/core';
import { type Action, authorize } from '../auth/authorize.ts';
import { builder } from '../builder.ts';
import type { RequestContext } from '../context.ts';

/** Shared shapes of the schema's fields, so every domain schema writes them one way. */

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/** A resolver that first checks the caller may do `action` (FORBIDDEN / UNAUTHENTICATED otherwise). */
export function allowed<Args, Result>(
  action: Action,
  resolve: (args: Args, ctx: RequestContext) => Result,
): (root: unknown, args: Args, ctx: RequestContext) => Result {
  return (_root, args, ctx) => {
    authorize(ctx.caller, action, ctx.services.policy);
    return resolve(args, ctx);
  };
}

/** A payload object with one field, `key`, of an object type. */
export function payloadOf<Key extends string, Value>(
  name: string,
  description: string,
  key: Key,
  field: { type: ObjectRef<Types, Value>; description: string },
) {
  return builder.objectRef<Record<Key, Value>>(name).implement({
    description,
    fields: (t) => ({
      // the generic Value defeats Pothos's resolver-result inference; the signature above is the check
      [key]: t.field({ type: field.type, description: field.description, resolve: (p) => p[key] as never }),
    }),
  });
}

interface InputFieldSpec<Input extends object, Payload> {
  type: ObjectRef<Types, Payload>;
  description: string;
  input: InputObjectRef<Types, Input>;
  inputDescription: string;
  /** Checked by authorize() first; omit when resolve checks the caller itself (uploaderOf, saverOf). */
  action?: Action;
  resolve: (input: Input, ctx: RequestContext) => Payload | Promise<Payload>;
}

function inputField<Input extends object, Payload>(spec: InputFieldSpec<Input, Payload>) {
  return (t: PothosSchemaTypes.RootFieldBuilder<Types, unknown>) =>
    t.field({
      type: spec.type,
      description: spec.description,
      args: { input: t.arg({ type: spec.input, required: true, description: spec.inputDescription }) },
      resolve: (_root: unknown, args: object, ctx: RequestContext) => {
        if (spec.action) authorize(ctx.caller, spec.action, ctx.services.policy);
        // generic Input/Payload defeat Pothos's inference; InputFieldSpec is the check
        return spec.resolve((args as { input: Input }).input, ctx) as never;
      },
    });
}

/** A mutation taking one required `input` object and answering a payload object. */
export function inputMutation<Input extends object, Payload>(
  name: string,
  spec: InputFieldSpec<Input, Payload>,
): void {
  builder.mutationField(name, inputField(spec));
}

/** A query taking one required `input` object. */
export function inputQuery<Input extends object, Payload>(
  name: string,
  spec: InputFieldSpec<Input, Payload>,
): void {
  builder.queryField(name, inputField(spec));
}

type NumberKeys<T> = { [K in keyof T]-?: T[K] extends number | null | undefined ? K : never }[keyof T] &
  string;

/** Nullable Float fields, each read from one sub-object of the parent under its own name (field name: description). */
export function nullableFloats<Parent, Sub>(
  t: PothosSchemaTypes.ObjectFieldBuilder<Types, Parent>,
  of: (parent: Parent) => Sub,
  descriptions: Partial<Record<NumberKeys<Sub>, string>>,
) {
  return Object.fromEntries(
    Object.entries(descriptions).map(([name, description]) => [
      name,
      t.float({
        nullable: true,
        description: description as string,
        resolve: (parent) => (of(parent)[name as keyof Sub] as number | null | undefined) ?? null,
      }),
    ]),
  );
}
