import { useState } from 'preact/hooks';

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState<'yes' | 'no' | undefined>(undefined);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('yes');
    } catch {
      setCopied('no');
    }
  };
  return (
    <span>
      <button type="button" class="button" onClick={copy}>
        {label}
      </button>
      <span role="status" class="hint">
        {copied === 'yes' ? ' Copied' : copied === 'no' ? ' Copy failed: select the text and copy it' : ''}
      </span>
    </span>
  );
}
