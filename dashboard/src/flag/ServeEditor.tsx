import type { Variation } from '../api/types.js';
import { errorProps, FieldError } from '../components/FieldErrors.js';
import type { FieldErrors } from '../logic/field-errors.js';
import type { ServeDraft } from '../logic/targeting-form.js';

interface Props {
  id: string;
  path: string;
  serve: ServeDraft;
  variations: readonly Variation[];
  errors: FieldErrors;
  disabled: boolean;
  onChange(serve: ServeDraft): void;
}

/** Serve one variation, or a percentage split between variations. */
export function ServeEditor({ id, path, serve, variations, errors, disabled, onChange }: Props) {
  const rolloutPath = `${path}.rollout.variations`;
  return (
    <fieldset class="serve" disabled={disabled}>
      <legend>Serve</legend>
      <div class="inline">
        <label>
          <input type="radio" name={`${id}-kind`} checked={serve.kind === 'variation'} onChange={() => onChange({ ...serve, kind: 'variation' })} /> One variation
        </label>
        <label>
          <input
            type="radio"
            name={`${id}-kind`}
            checked={serve.kind === 'rollout'}
            onChange={() => onChange({ ...serve, kind: 'rollout', shares: serve.shares.length > 1 ? serve.shares : variations.map((v, i) => ({ variation: v.key, percent: i === 0 ? '100' : '0' })) })}
          />{' '}
          Percentage split
        </label>
      </div>
      {serve.kind === 'variation' ? (
        <div class="field">
          <label for={`${id}-variation`}>Variation</label>
          <select id={`${id}-variation`} value={serve.variation} onChange={(e) => onChange({ ...serve, variation: e.currentTarget.value })} {...errorProps(errors, `${path}.variation`, id)}>
            {variations.map((v) => (
              <option key={v.key} value={v.key}>
                {v.name || v.key} ({JSON.stringify(v.value)})
              </option>
            ))}
          </select>
          <FieldError errors={errors} path={`${path}.variation`} prefix={id} />
        </div>
      ) : (
        <div>
          {serve.shares.map((share, i) => (
            <div class="inline" key={i}>
              <label for={`${id}-share-${i}`}>{share.variation}</label>
              <input
                id={`${id}-share-${i}`}
                class="narrow"
                inputMode="decimal"
                value={share.percent}
                onInput={(e) => onChange({ ...serve, shares: serve.shares.map((s, j) => (j === i ? { ...s, percent: e.currentTarget.value } : s)) })}
                {...errorProps(errors, `${rolloutPath}[${i}]`, id)}
              />
              <span aria-hidden="true">%</span>
              <FieldError errors={errors} path={`${rolloutPath}[${i}]`} prefix={id} />
            </div>
          ))}
          <FieldError errors={errors} path={rolloutPath} prefix={`${id}-total`} />
        </div>
      )}
    </fieldset>
  );
}
