import { lexicographicSortSchema, printSchema } from 'graphql';
import './auth/api-keys.schema.ts';
import { builder } from './builder.ts';
import './feedback/feedback.schema.ts';
import './images/images.schema.ts';
import './search/search.schema.ts';
import './moderation/moderation.schema.ts';
import './lifecycle/lifecycle.schema.ts';

/** Every domain schema file registers itself on import; this builds the one schema. */
export const schema = builder.toSchema();

export const printedSchema = () => `${printSchema(lexicographicSortSchema(schema))}\n`;
