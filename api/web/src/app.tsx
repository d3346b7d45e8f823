import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import {
  type Hit,
  isEmptyQuery,
  isTinyModel,
  pageMeta,
  type Query,
  type Reference,
  recordClick,
  search,
} from './api.ts';
import { ApiError } from './graphql.ts';
import { ImageDialog } from './image-dialog.tsx';
import { Results, type ShownHit } from './results.tsx';
import { SearchForm } from './search-form.tsx';
import { UploadPanel } from './upload-panel.tsx';

const EMPTY: Query = { text: '', reference: null, textWeight: 0.5, fusion: 'EARLY', labels: [] };

interface ResultState {
  query: Query;
  hits: ShownHit[];
  hasMore: boolean;
  partial: boolean;
  /** The server said nothing in the library is relevant to the query. */
  nothingRelevant: boolean;
  /** Label chips: the tags of these results, and of the unfiltered results they narrow. */
  chips: string[];
}

export function App() {
  const [query, setQuery] = useState<Query>(EMPTY);
  const [results, setResults] = useState<ResultState | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [modelVersion, setModelVersion] = useState(pageMeta('model-version'));
  const [opened, setOpened] = useState<ShownHit | null>(null);
  const running = useRef<AbortController | null>(null);
  const status = useRef<HTMLParagraphElement>(null);

  const run = useCallback(async (q: Query, offset = 0) => {
    if (isEmptyQuery(q)) {
      setError('Type some words or give an image to search with.');
      return;
    }
    running.current?.abort();
    const controller = new AbortController();
    running.current = controller;
    setBusy(true);
    setError(null);
    try {
      const page = await search(q, offset, controller.signal);
      setModelVersion(page.modelVersion);
      const shown = page.hits.map((hit: Hit) => ({ ...hit, queryId: page.queryId }));
      const present = shown.flatMap((hit) => hit.image.tags.map((tag) => tag.label));
      setResults((previous) => {
        // narrowing by a label keeps the other chips, so labels can be combined or swapped
        const keep = previous && (offset > 0 || (q.labels.length > 0 && sameSubject(previous.query, q)));
        return {
          query: q,
          hits: offset > 0 && previous ? [...previous.hits, ...shown] : shown,
          hasMore: page.hasNextPage,
          partial: page.partial,
          nothingRelevant: offset === 0 ? page.nothingRelevant : (previous?.nothingRelevant ?? false),
          chips: [...new Set([...(keep ? previous.chips : []), ...q.labels, ...present])].sort(),
        };
      });
    } catch (caught) {
      if (caught instanceof DOMException && caught.name === 'AbortError') return;
      setError(caught instanceof ApiError ? caught.message : String(caught));
    } finally {
      if (running.current === controller) setBusy(false);
    }
  }, []);

  const submit = (q: Query) => {
    setQuery(q);
    void run(q);
  };

  const toggleLabel = (label: string) => {
    const labels = query.labels.includes(label)
      ? query.labels.filter((l) => l !== label)
      : [...query.labels, label];
    submit({ ...query, labels });
  };

  const moreLikeThis = (id: string) => {
    setOpened(null);
    submit({ ...query, text: '', labels: [], reference: { kind: 'id', id } satisfies Reference });
  };

  const open = (hit: ShownHit) => {
    setOpened(hit);
    // the click is feedback for ranking; showing the image never waits for it
    recordClick(hit.queryId, hit.image.id).catch(() => {});
  };

  // announce new results to screen readers without moving focus
  useEffect(() => {
    if (status.current && results) status.current.textContent = describe(results);
  }, [results]);

  return (
    <div class="page">
      <header class="masthead">
        <h1>
          <a href="/">Pixelfind</a>
        </h1>
        <p class="tagline">Search images by words, by example, or both.</p>
      </header>
      {isTinyModel(modelVersion) && (
        <aside class="notice" aria-label="Demo model notice">
          <p>
            This server runs the <strong>tiny test model</strong>: it knows colours only. Try{' '}
            {['red', 'blue', 'green', 'yellow', 'red top blue bottom'].map((words, i) => (
              <span key={words}>
                {i > 0 && ', '}
                <button type="button" class="link" onClick={() => submit({ ...EMPTY, text: words })}>
                  {words}
                </button>
              </span>
            ))}
            , and upload plain colour images to find.
          </p>
        </aside>
      )}
      <main>
        <SearchForm query={query} busy={busy} onChange={setQuery} onSubmit={submit} />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <p class="visually-hidden" role="status" aria-live="polite" ref={status} />
        {results && (
          <Results
            hits={results.hits}
            partial={results.partial}
            nothingRelevant={results.nothingRelevant}
            hasMore={results.hasMore}
            busy={busy}
            chips={results.chips}
            selectedLabels={results.query.labels}
            onToggleLabel={toggleLabel}
            onMore={() => void run(results.query, results.hits.length)}
            onOpen={open}
            onMoreLikeThis={moreLikeThis}
          />
        )}
        <UploadPanel anonymousUploads={pageMeta('anonymous-uploads') === 'true'} />
      </main>
      <footer class="footer">
        <span>
          Model: <code data-testid="model-version">{modelVersion || 'unknown'}</code>
        </span>
        <a href="/graphql">GraphiQL</a>
      </footer>
      {opened && <ImageDialog hit={opened} onClose={() => setOpened(null)} onMoreLikeThis={moreLikeThis} />}
    </div>
  );
}

const sameSubject = (a: Query, b: Query) => a.text.trim() === b.text.trim() && a.reference === b.reference;

function describe(results: ResultState): string {
  if (results.nothingRelevant) return 'Nothing relevant found.';
  if (results.hits.length === 0) return 'No results.';
  return `${results.hits.length} result${results.hits.length === 1 ? '' : 's'}${results.hasMore ? ', more available' : ''}.`;
}
