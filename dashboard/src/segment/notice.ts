/**
 * A success message carried across one navigation (a deleted segment's page sends you back to the
 * list, which says what happened). Read once: a later visit to the list shows nothing.
 */
let pending: string | undefined;

export function flashNotice(text: string): void {
  pending = text;
}

export function takeNotice(): string | undefined {
  const text = pending;
  pending = undefined;
  return text;
}
