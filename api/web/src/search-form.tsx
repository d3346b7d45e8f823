import { useEffect, useId, useRef, useState } from 'preact/hooks';
import type { Query, Reference } from './api.ts';
import { thumbUrl } from './api.ts';

const URL_ONLY = /^https?:\/\/\S+$/i;

interface Props {
  query: Query;
  busy: boolean;
  onChange(query: Query): void;
  onSubmit(query: Query): void;
}

/** Words, a reference image (dropped, pasted, picked, photographed, a URL, or a result), or both. */
export function SearchForm({ query, busy, onChange, onSubmit }: Props) {
  const id = useId();
  const [dragging, setDragging] = useState(false);
  const latest = useRef(query);
  latest.current = query;

  const setReference = (reference: Reference | null, submitNow = false) => {
    const previous = latest.current.reference;
    if (previous?.kind === 'file' && previous !== reference) URL.revokeObjectURL(previous.previewUrl);
    const next = { ...latest.current, reference };
    onChange(next);
    if (submitNow) onSubmit(next);
  };
  const fromFile = (file: File) =>
    setReference(
      { kind: 'file', file, name: file.name || 'pasted image', previewUrl: URL.createObjectURL(file) },
      true,
    );

  // drop or paste an image anywhere on the page to search with it
  useEffect(() => {
    const imageIn = (items: DataTransfer | null) =>
      [...(items?.files ?? [])].find((file) => file.type.startsWith('image/')) ?? null;
    const onDragOver = (event: DragEvent) => {
      if (!event.dataTransfer?.types.includes('Files')) return;
      event.preventDefault();
      setDragging(true);
    };
    const onDragLeave = (event: DragEvent) => {
      if (event.relatedTarget === null) setDragging(false);
    };
    const onDrop = (event: DragEvent) => {
      setDragging(false);
      const file = imageIn(event.dataTransfer);
      if (!file) return;
      event.preventDefault();
      fromFile(file);
    };
    const onPaste = (event: ClipboardEvent) => {
      const file = imageIn(event.clipboardData);
      if (!file) return;
      event.preventDefault();
      fromFile(file);
    };
    window.addEventListener('dragover', onDragOver);
    window.addEventListener('dragleave', onDragLeave);
    window.addEventListener('drop', onDrop);
    window.addEventListener('paste', onPaste);
    return () => {
      window.removeEventListener('dragover', onDragOver);
      window.removeEventListener('dragleave', onDragLeave);
      window.removeEventListener('drop', onDrop);
      window.removeEventListener('paste', onPaste);
    };
  }, []);

  const submit = (event: Event) => {
    event.preventDefault();
    const text = query.text.trim();
    // a pasted image URL on its own is an image query
    if (URL_ONLY.test(text)) onSubmit({ ...query, text: '', reference: { kind: 'url', url: text } });
    else onSubmit(query);
  };
  const pick = (event: Event) => {
    const input = event.currentTarget as HTMLInputElement;
    const file = input.files?.[0];
    if (file) fromFile(file);
    input.value = '';
  };

  const both = query.reference !== null && query.text.trim() !== '';
  return (
    <form class={`search${dragging ? ' dragging' : ''}`} aria-label="Search" onSubmit={submit}>
      <div class="search-row">
        <label for={`${id}-text`} class="visually-hidden">
          Search words or an image URL
        </label>
        <input
          id={`${id}-text`}
          type="search"
          name="q"
          placeholder="Describe an image, or paste an image URL"
          autocomplete="off"
          value={query.text}
          onInput={(e) => onChange({ ...query, text: (e.currentTarget as HTMLInputElement).value })}
        />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Searching…' : 'Search'}
        </button>
      </div>
      <div class="image-row">
        <label class="button">
          Choose image
          <input type="file" accept="image/*" class="visually-hidden" onChange={pick} />
        </label>
        <label class="button">
          Take photo
          <input type="file" accept="image/*" capture="environment" class="visually-hidden" onChange={pick} />
        </label>
        <span class="hint">or drop or paste an image anywhere</span>
      </div>
      {query.reference && (
        <div class="reference">
          {query.reference.kind === 'file' && <img src={query.reference.previewUrl} alt="" />}
          {query.reference.kind === 'id' && <img src={thumbUrl(query.reference.id, 128)} alt="" />}
          <span>
            {query.reference.kind === 'file' && `Like ${query.reference.name}`}
            {query.reference.kind === 'url' && `Like ${query.reference.url}`}
            {query.reference.kind === 'id' && `More like image ${query.reference.id}`}
          </span>
          <button type="button" onClick={() => setReference(null)}>
            Remove image
          </button>
        </div>
      )}
      {both && (
        <fieldset class="blend">
          <legend>Text and image together</legend>
          <label for={`${id}-weight`}>
            Text weight <output for={`${id}-weight`}>{Math.round(query.textWeight * 100)}%</output>
          </label>
          <input
            id={`${id}-weight`}
            type="range"
            min="0"
            max="1"
            step="0.05"
            value={query.textWeight}
            aria-valuetext={`${Math.round(query.textWeight * 100)}% text, ${Math.round((1 - query.textWeight) * 100)}% image`}
            onInput={(e) =>
              onChange({ ...query, textWeight: Number((e.currentTarget as HTMLInputElement).value) })
            }
          />
          <span class="fusion" role="radiogroup" aria-label="Fusion">
            {(['EARLY', 'LATE'] as const).map((fusion) => (
              <label key={fusion}>
                <input
                  type="radio"
                  name={`${id}-fusion`}
                  value={fusion}
                  checked={query.fusion === fusion}
                  onChange={() => onChange({ ...query, fusion })}
                />
                {fusion === 'EARLY' ? 'Early (one blended query)' : 'Late (merge two searches)'}
              </label>
            ))}
          </span>
        </fieldset>
      )}
    </form>
  );
}
