import { useEffect, useId, useState } from 'preact/hooks';
import { type ImageStatus, statuses, uploadImage } from './api.ts';
import { ApiError, hasApiKey, setApiKey } from './graphql.ts';

interface Item {
  key: number;
  name: string;
  id: string | null;
  status: ImageStatus | 'UPLOADING' | 'ERROR';
  message?: string;
}

const POLL_MS = 1000;
const SETTLED = new Set(['INDEXED', 'REJECTED', 'FAILED', 'DELETED', 'ERROR']);
let nextKey = 1;

/** Several files at once; each one's status moves PENDING -> INDEXED or REJECTED as it happens. */
export function UploadPanel({ anonymousUploads }: { anonymousUploads: boolean }) {
  const id = useId();
  const [items, setItems] = useState<Item[]>([]);
  const [keyed, setKeyed] = useState(hasApiKey());
  const [keyInput, setKeyInput] = useState('');
  const [dragging, setDragging] = useState(false);

  const update = (key: number, change: Partial<Item>) =>
    setItems((all) => all.map((item) => (item.key === key ? { ...item, ...change } : item)));

  const send = (files: File[]) => {
    const added = files.map((file) => ({
      key: nextKey++,
      name: file.name,
      id: null,
      status: 'UPLOADING' as const,
    }));
    setItems((all) => [...added, ...all]);
    // a few at a time: a folder of photos must not open a hundred requests at once
    const queue = files.map((file, i) => ({ file, key: added[i]!.key }));
    const workers = Array.from({ length: Math.min(3, queue.length) }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        try {
          const image = await uploadImage(next.file);
          update(next.key, { id: image.id, status: image.status });
        } catch (error) {
          const message =
            error instanceof ApiError && (error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN')
              ? `${error.message}. Enter an API key that may upload.`
              : error instanceof Error
                ? error.message
                : String(error);
          update(next.key, { status: 'ERROR', message });
        }
      }
    });
    void Promise.all(workers);
  };

  // poll the images still on their way, all in one request
  const waiting = items.filter((item) => item.id && !SETTLED.has(item.status)).map((item) => item.id!);
  const waitingKey = waiting.join(',');
  useEffect(() => {
    if (waiting.length === 0) return;
    const timer = setTimeout(async () => {
      try {
        const now = await statuses(waiting);
        setItems((all) =>
          all.map((item) => (item.id && now.has(item.id) ? { ...item, status: now.get(item.id)! } : item)),
        );
      } catch {
        setItems((all) => [...all]); // try again on the next tick
      }
    }, POLL_MS);
    return () => clearTimeout(timer);
  }, [waitingKey, items]);

  const pick = (event: Event) => {
    const input = event.currentTarget as HTMLInputElement;
    send([...(input.files ?? [])]);
    input.value = '';
  };
  const drop = (event: DragEvent) => {
    event.preventDefault();
    event.stopPropagation();
    setDragging(false);
    send([...(event.dataTransfer?.files ?? [])].filter((file) => file.type.startsWith('image/')));
  };

  return (
    <section class="upload" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Add images</h2>
      {!anonymousUploads && !keyed && (
        <p class="hint">This server takes uploads from API keys with upload rights only.</p>
      )}
      <fieldset
        class={`dropzone${dragging ? ' dragging' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          e.stopPropagation();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={drop}
      >
        <legend class="visually-hidden">Images to upload</legend>
        <label class="button primary">
          Choose images to upload
          <input
            type="file"
            accept="image/*"
            multiple
            class="visually-hidden"
            onChange={pick}
            data-testid="upload-input"
          />
        </label>
        <span class="hint">or drop them here</span>
      </fieldset>
      <details class="upload-options">
        <summary>Upload options</summary>
        <form
          class="key-form"
          onSubmit={(e) => {
            e.preventDefault();
            setApiKey(keyInput);
            setKeyed(hasApiKey());
            setKeyInput('');
          }}
        >
          <label for={`${id}-key`}>API key {keyed && '(set for this tab)'}</label>
          <input
            id={`${id}-key`}
            type="password"
            autocomplete="off"
            value={keyInput}
            onInput={(e) => setKeyInput((e.currentTarget as HTMLInputElement).value)}
          />
          <button type="submit">{keyInput ? 'Use key' : keyed ? 'Forget key' : 'Use key'}</button>
        </form>
      </details>
      {items.length > 0 && (
        <ul class="uploads" aria-live="polite" aria-label="Uploads">
          {items.map((item) => (
            <li key={item.key} data-status={item.status}>
              <span class="name">{item.name}</span>
              <span class={`status status-${item.status.toLowerCase()}`}>{label(item)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function label(item: Item): string {
  switch (item.status) {
    case 'UPLOADING':
      return 'Uploading…';
    case 'PENDING':
      return 'PENDING: being indexed…';
    case 'INDEXED':
      return 'INDEXED: searchable';
    case 'REJECTED':
      return 'REJECTED: will not be shown';
    case 'FAILED':
      return 'FAILED: could not be indexed';
    case 'DELETED':
      return 'DELETED';
    case 'ERROR':
      return `Not uploaded: ${item.message ?? 'error'}`;
  }
}
