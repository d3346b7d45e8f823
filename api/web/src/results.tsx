import type { Hit } from './api.ts';
import { thumbUrl } from './api.ts';

/** A hit and the query that showed it: a click is recorded against that query. */
export interface ShownHit extends Hit {
  queryId: string;
}

interface Props {
  hits: ShownHit[];
  partial: boolean;
  /** from the server: nothing in the library is similar enough to the query */
  nothingRelevant: boolean;
  hasMore: boolean;
  busy: boolean;
  chips: string[];
  selectedLabels: string[];
  onToggleLabel(label: string): void;
  onMore(): void;
  onOpen(hit: ShownHit): void;
  onMoreLikeThis(id: string): void;
}

export const describeTags = (hit: Hit) => hit.image.tags.map((t) => t.label).join(', ');

export function Results(props: Props) {
  const { hits, selectedLabels, chips: labels } = props;
  return (
    <section class="results" aria-label="Results">
      {labels.length > 0 && (
        <fieldset class="chips">
          <legend class="visually-hidden">Filter by label</legend>
          {labels.map((label) => (
            <button
              key={label}
              type="button"
              class="chip"
              aria-pressed={selectedLabels.includes(label)}
              onClick={() => props.onToggleLabel(label)}
            >
              {selectedLabels.includes(label) && <span aria-hidden="true">✓ </span>}
              {label}
            </button>
          ))}
        </fieldset>
      )}
      {props.partial && (
        <p class="warning">Some of the index did not answer in time: results may be missing a few images.</p>
      )}
      {props.nothingRelevant ? (
        <p class="empty">Nothing relevant found. Try other words, fewer labels, or another image.</p>
      ) : hits.length === 0 ? (
        <p class="empty">No results.</p>
      ) : (
        <ul class="grid">
          {hits.map((hit, i) => (
            <li key={`${hit.image.id}-${i}`} class="cell" data-image-id={hit.image.id}>
              <button type="button" class="thumb" onClick={() => props.onOpen(hit)}>
                <img
                  src={thumbUrl(hit.image.id)}
                  alt={`Result ${i + 1}${hit.image.tags.length ? `: ${describeTags(hit)}` : ''}`}
                  width={Math.min(256, hit.image.width)}
                  height={Math.round((Math.min(256, hit.image.width) * hit.image.height) / hit.image.width)}
                  loading="lazy"
                  decoding="async"
                />
              </button>
              <div class="details">
                <span class="score">score {hit.score.toFixed(3)}</span>
                {hit.image.tags.length > 0 && <span class="tags">{describeTags(hit)}</span>}
                <button type="button" class="link" onClick={() => props.onMoreLikeThis(hit.image.id)}>
                  More like this<span class="visually-hidden"> result {i + 1}</span>
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      {props.hasMore && (
        <button type="button" class="more" disabled={props.busy} onClick={props.onMore}>
          {props.busy ? 'Loading…' : 'More results'}
        </button>
      )}
    </section>
  );
}
