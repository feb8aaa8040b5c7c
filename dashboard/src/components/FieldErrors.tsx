import { errorsAt, fieldId, type FieldErrors } from '../logic/field-errors.js';

/** Messages the API reported for a field (and its children), linked by id for aria-describedby. */
export function FieldError({ errors, path, prefix }: { errors: FieldErrors; path: string; prefix: string }) {
  const messages = errorsAt(errors, path);
  if (messages.length === 0) return null;
  return (
    <span class="field-error" id={fieldId(prefix, path)} role="alert">
      {messages.join('; ')}
    </span>
  );
}

/** aria props for an input with a possible error at `path`. */
export function errorProps(errors: FieldErrors, path: string, prefix: string) {
  const has = errorsAt(errors, path).length > 0;
  return has ? { 'aria-invalid': true as const, 'aria-describedby': fieldId(prefix, path) } : {};
}
