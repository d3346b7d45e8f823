import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config/config.ts';

export type RequestLimits = Config['requestLimits'];

const tooComplex = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });

/**
 * Counts field selections (fragments expanded, each spread costing its fragment's fields) and
 * `search` fields in one linear walk. graphql-js's OverlappingFieldsCanBeMerged rule is
 * quadratic in the fields that share a response name, so this must run before validation.
 */
export function countSelections(document: DocumentNode): { fields: number; searches: number } {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions)
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  const memo = new Map<string, { fields: number; searches: number }>();
  const visiting = new Set<string>();

  const walk = (set: SelectionSetNode | undefined): { fields: number; searches: number } => {
    const total = { fields: 0, searches: 0 };
    for (const selection of set?.selections ?? []) {
      let part: { fields: number; searches: number };
      if (selection.kind === Kind.FIELD) {
        part = walk(selection.selectionSet);
        part = {
          fields: part.fields + 1,
          searches: part.searches + (selection.name.value === 'search' ? 1 : 0),
        };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        part = walk(selection.selectionSet);
      } else {
        const name = selection.name.value;
        // a cycle is a validation error; count it as nothing here and let validation say so
        if (visiting.has(name)) continue;
        part = memo.get(name) ?? { fields: 0, searches: 0 };
        if (!memo.has(name)) {
          visiting.add(name);
          part = walk(fragments.get(name)?.selectionSet);
          visiting.delete(name);
          memo.set(name, part);
        }
      }
      total.fields += part.fields;
      total.searches += part.searches;
      // saturate: a document of nested spreads must not overflow into a small number
      if (total.fields > 1e9) return total;
    }
    return total;
  };

  const total = { fields: 0, searches: 0 };
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const part = walk(definition.selectionSet);
    total.fields += part.fields;
    total.searches += part.searches;
  }
  return total;
}

/**
 * Bounds on what one GraphQL document may ask for: tokens at parse (graphql-armor), then,
 * before any validation rule runs, a linear count of field selections and `search` fields;
 * depth, aliases, directives and cost as graphql-armor validation rules. Introspection and
 * field suggestions follow the production-surface settings.
 */
export function useRequestLimits(
  limits: RequestLimits,
  surface: { introspection: boolean; fieldSuggestions: boolean } = {
    introspection: true,
    fieldSuggestions: true,
  },
): Plugin {
  const armor = EnvelopArmorPlugin({
    maxTokens: { n: limits.maxTokens },
    maxDepth: { n: limits.maxDepth, flattenFragments: true },
    // aliased __typename counts too (armor allow-lists it by default)
    maxAliases: { n: limits.maxAliases, allowList: [] },
    maxDirectives: { n: limits.maxDirectives },
    costLimit: { maxCost: limits.maxCost, flattenFragments: true },
    blockFieldSuggestion: { enabled: !surface.fieldSuggestions },
  }) as Plugin;
  return {
    onPluginInit({ addPlugin }) {
      addPlugin({
        onValidate({ params, addValidationRule, setResult }) {
          const { fields, searches } = countSelections(params.documentAST);
          if (fields > limits.maxFields) {
            setResult([tooComplex(`Expected at most ${limits.maxFields} field selections per request`)]);
            return;
          }
          if (searches > limits.maxSearches) {
            setResult([tooComplex(`Expected at most ${limits.maxSearches} search fields per request`)]);
            return;
          }
          if (!surface.introspection) addValidationRule(NoSchemaIntrospectionCustomRule);
        },
      });
      addPlugin(armor);
    },
  };
}
