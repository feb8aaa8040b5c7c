import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/** How long a toast stays when nobody points at it or focuses it. */
export const TOAST_MS = 8000;

export interface ToastItem {
  id: number;
  text: string;
}

export interface Toasts {
  items: ToastItem[];
  push(text: string): void;
  dismiss(id: number): void;
}

/** A short list of passing notes (newest last); each hides itself after TOAST_MS. */
export function useToasts(limit = 4): Toasts {
  const [items, setItems] = useState<ToastItem[]>([]);
  const next = useRef(1);
  const push = useCallback(
    (text: string) => {
      const id = next.current++;
      setItems((list) => [...list, { id, text }].slice(-limit));
    },
    [limit],
  );
  const dismiss = useCallback((id: number) => setItems((list) => list.filter((t) => t.id !== id)), []);
  return { items, push, dismiss };
}

/**
 * Toasts stacked bottom-right, over the page's right-hand margin rather than its controls (the page
 * leaves room below its content while any is shown). Each is a polite status — announced without
 * interrupting — and can be dismissed; its timer waits while the pointer or focus is on it.
 */
export function ToastStack({ toasts, label = 'Notifications' }: { toasts: Toasts; label?: string }) {
  return (
    <section class="toasts" aria-label={label}>
      {toasts.items.map((t) => (
        <Toast key={t.id} item={t} onDismiss={() => toasts.dismiss(t.id)} />
      ))}
    </section>
  );
}

function Toast({ item, onDismiss }: { item: ToastItem; onDismiss(): void }) {
  const [held, setHeld] = useState(false);
  const dismiss = useRef(onDismiss);
  dismiss.current = onDismiss;
  useEffect(() => {
    if (held) return;
    const timer = setTimeout(() => dismiss.current(), TOAST_MS);
    return () => clearTimeout(timer);
  }, [held]);
  return (
    <div
      class="toast"
      role="status"
      aria-live="polite"
      aria-atomic="true"
      onMouseEnter={() => setHeld(true)}
      onMouseLeave={() => setHeld(false)}
      onFocusIn={() => setHeld(true)}
      onFocusOut={() => setHeld(false)}
    >
      <span class="toast-text">{item.text}</span>
      <button type="button" class="toast-close" aria-label={`Dismiss: ${item.text}`} onClick={onDismiss}>
        ×
      </button>
    </div>
  );
}
