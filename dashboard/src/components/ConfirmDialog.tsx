import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export interface ConfirmRequest {
  title: string;
  body: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  onConfirm(): void;
}

/** A modal confirmation on the native <dialog>: focus trapping and Escape come with it. */
export function ConfirmDialog({ request, onClose }: { request: ConfirmRequest | null; onClose(): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (request && !dialog.open) dialog.showModal();
    if (!request && dialog.open) dialog.close();
  }, [request]);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="confirm-title" onClose={onClose} onCancel={onClose}>
      {request && (
        <form method="dialog" onSubmit={(e) => e.preventDefault()}>
          <h2 id="confirm-title">{request.title}</h2>
          <div class="dialog-body">{request.body}</div>
          <div class="dialog-actions">
            <button type="button" class="button" onClick={onClose} autofocus>
              Cancel
            </button>
            <button
              type="button"
              class={request.danger ? 'button danger' : 'button primary'}
              onClick={() => {
                const confirm = request.onConfirm;
                onClose();
                confirm();
              }}
            >
              {request.confirmLabel}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
