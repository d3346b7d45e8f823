/** The attack documents of issue 10 item 6, built here so the bench sends the same ones. */
export const ATTACKS = {
  /** 2,000 identical fields with one response name: quadratic field merging (76 KiB). */
  sameNameSearches: `{ ${Array.from({ length: 2000 }, () => 'search(input: {text: "a"}) { queryId }').join(' ')} }`,
  /** 60 KiB of `__typename` (under the body cap: the token limit stops it at parse). */
  typename60KiB: `{ ${'__typename '.repeat(Math.floor((60 * 1024) / 11))}}`,
  /** 1 MiB of `__typename`. */
  typenameMiB: `{ ${'__typename '.repeat(Math.floor((1024 * 1024) / 11))}}`,
  /** Deep nesting through fragments-free selections. */
  deep: `{ search(input: {text: "a"}) { hits { image { ${'tags { image { '.repeat(20)} id ${'} } '.repeat(20)} } } } }`,
  /** 100 aliases (the limit is 30). */
  aliases: `{ ${Array.from({ length: 100 }, (_, i) => `a${i}: __typename`).join(' ')} }`,
  /** A few fields fanned out by nested fragment spreads (each spread doubles the count). */
  fragmentBomb: `query { ...F9 } ${Array.from(
    { length: 10 },
    (_, i) => `fragment F${i} on Query { ${i === 0 ? '__typename' : `...F${i - 1} ...F${i - 1}`} }`,
  ).join(' ')}`,
};
