import { useEffect, useRef } from 'preact/hooks';
import { thumbUrl } from './api.ts';
import type { ShownHit } from './results.tsx';

interface Props {
  hit: ShownHit;
  onClose(): void;
  onMoreLikeThis(id: string): void;
}

/** The opened result: a large service-made preview and its metadata, in a modal dialog. */
export function ImageDialog({ hit, onClose, onMoreLikeThis }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    const opener = document.activeElement as HTMLElement | null;
    element.showModal();
    // focus goes back to the result that opened the dialog
    return () => opener?.focus();
  }, []);
  const { image } = hit;
  return (
    <dialog ref={dialog} class="viewer" aria-labelledby="viewer-title" onClose={onClose}>
      <div class="viewer-body">
        <img
          src={thumbUrl(image.id, 1024)}
          alt={image.tags.length ? image.tags.map((t) => t.label).join(', ') : `Result ${image.id}, untagged`}
        />
        <div class="meta">
          <h2 id="viewer-title">Image {image.id}</h2>
          <dl>
            <dt>Size</dt>
            <dd>
              {image.width} × {image.height}
            </dd>
            <dt>Added</dt>
            <dd>
              <time dateTime={image.createdAt}>{new Date(image.createdAt).toLocaleString()}</time>
            </dd>
            <dt>Score</dt>
            <dd>
              {hit.score.toFixed(3)} (similarity {hit.similarity.toFixed(3)})
            </dd>
            <dt>Tags</dt>
            <dd>
              {image.tags.length === 0
                ? 'none'
                : image.tags
                    .map((t) => `${t.label} (${t.source}, ${Math.round(t.confidence * 100)}%)`)
                    .join(', ')}
            </dd>
          </dl>
          <div class="actions">
            <button type="button" class="primary" onClick={() => onMoreLikeThis(image.id)}>
              More like this
            </button>
            <a class="button" href={image.storageUrl} target="_blank" rel="noopener noreferrer">
              Open original
            </a>
            <button type="button" onClick={() => dialog.current?.close()}>
              Close
            </button>
          </div>
        </div>
      </div>
    </dialog>
  );
}
