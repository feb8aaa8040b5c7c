/**
 * `@switchyard/react`: React bindings for the values-only browser client (`@switchyard/sdk/web`).
 *
 * Hooks read through `useSyncExternalStore`, so concurrent rendering never tears and server
 * rendering is exact: on the server, and while hydrating, every hook answers from the `bootstrap`
 * values (computed on the server for this user, e.g. with `bootstrapFor(nodeClient, context)`), so
 * the server HTML and the first client render agree — no flicker, no hydration mismatch.
 *
 * This module imports no Node code: it is safe in browser bundles and in server rendering alike.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import { createWebClient, type FlagValues, type WebClient, type WebClientOptions, type WebContext } from '@switchyard/sdk/web';

export type { FlagValues, WebClient, WebClientOptions, WebContext };

interface Flags {
  /** Absent on the server, and until a provider given `options` has created its client. */
  client: WebClient | null;
  /** What the server rendered with: the server snapshot of every hook. */
  bootstrap: FlagValues;
}

const FlagsContext = createContext<Flags | null>(null);
const NO_VALUES: FlagValues = Object.freeze({}) as FlagValues;

export type SwitchyardProviderProps = {
  children?: ReactNode;
} & (
  | {
      /**
       * A client created once, outside React (its cached values answer from the first render).
       * `null`/absent on the server, where only `bootstrap` is used.
       */
      client?: WebClient | null;
      /** The values the server rendered with; pass the same object to `createWebClient({ bootstrap })`. */
      bootstrap?: FlagValues;
      options?: never;
    }
  | {
      /**
       * Options to create the client from. It is created after mounting (never while rendering, and
       * never on the server: it does network I/O) and closed on unmount; until then hooks answer
       * from `options.bootstrap`. Read once: to switch users, call `useSwitchyardClient()?.identify(context)`.
       */
      options: WebClientOptions;
      client?: never;
      bootstrap?: never;
    }
);

/**
 * Puts a Switchyard web client in context for `useFlag`, `useVariation` and friends.
 * @example
 * const client = createWebClient({ url: 'https://flags.example.com', clientKey: 'sy_…', context: { targetingKey: user.id }, bootstrap });
 * hydrateRoot(root, <SwitchyardProvider client={client} bootstrap={bootstrap}><App /></SwitchyardProvider>);
 */
export function SwitchyardProvider(props: SwitchyardProviderProps): ReactNode {
  const { options } = props;
  const [created, setCreated] = useState<WebClient | null>(null);
  // Created in an effect: rendering stays free of I/O, and StrictMode's mount → unmount → mount
  // closes the first client and creates a second instead of leaking a polling client.
  const optionsRef = useRef(options);
  optionsRef.current = options;
  const wantsOwnClient = options !== undefined;
  useEffect(() => {
    if (!wantsOwnClient || !optionsRef.current) return;
    const own = createWebClient(optionsRef.current);
    setCreated(own);
    return () => {
      own.close();
      setCreated(null);
    };
  }, [wantsOwnClient]);

  const client = options ? created : (props.client ?? null);
  const bootstrap = (options ? options.bootstrap : props.bootstrap) ?? NO_VALUES;
  // A new object only when the client or the bootstrap changes: consumers do not re-render otherwise.
  const flags = useMemo<Flags>(() => ({ client, bootstrap }), [client, bootstrap]);
  return <FlagsContext.Provider value={flags}>{props.children}</FlagsContext.Provider>;
}

function useFlags(hook: string): Flags {
  const flags = useContext(FlagsContext);
  if (!flags) throw new Error(`Switchyard: ${hook}() must be called inside <SwitchyardProvider>`);
  return flags;
}

/** The same type rule as `WebClient.variation`: a value of another type than the default is not served. */
function pick<T>(values: FlagValues, key: string, defaultValue: T): T {
  const value = values[key];
  return value !== undefined && typeof value === typeof defaultValue && Array.isArray(value) === Array.isArray(defaultValue) && (value === null) === (defaultValue === null) ? (value as T) : defaultValue;
}

/**
 * The flag's value for this user, re-rendering when (and only when) this flag changes.
 * Objects keep their identity while their content stays the same, so they are safe in deps arrays.
 * @example const layout = useVariation('checkout-layout', 'classic');
 */
export function useVariation<T>(key: string, defaultValue: T): T {
  return useValue('useVariation', key, defaultValue);
}

function useValue<T>(hook: string, key: string, defaultValue: T): T {
  const { client, bootstrap } = useFlags(hook);
  const last = useRef<{ json: string; value: T } | null>(null);
  // Each poll parses fresh objects: hand out the previous one while its content is unchanged.
  const stable = (value: T): T => {
    if (typeof value !== 'object' || value === null) return value;
    const json = JSON.stringify(value);
    if (last.current?.json === json) return last.current.value;
    last.current = { json, value };
    return value;
  };
  const subscribe = useCallback((onChange: () => void) => (client ? client.on('change', (keys) => keys.includes(key) && onChange()) : () => {}), [client, key]);
  return useSyncExternalStore(
    subscribe,
    () => stable(client ? client.variation(key, defaultValue) : pick(bootstrap, key, defaultValue)),
    () => stable(pick(bootstrap, key, defaultValue)),
  );
}

/**
 * Whether a boolean flag is on for this user (`defaultValue` while unknown).
 * @example const newCheckout = useFlag('new-checkout');
 */
export function useFlag(key: string, defaultValue = false): boolean {
  return useValue('useFlag', key, defaultValue);
}

/** The client in context (`null` on the server and before a provider given `options` created it). */
export function useSwitchyardClient(): WebClient | null {
  return useFlags('useSwitchyardClient').client;
}

/**
 * False until the first answer from the server arrived (values from bootstrap or the cache are
 * served meanwhile); false on the server. For a spinner where a stale value would be wrong.
 */
export function useFlagsReady(): boolean {
  const { client } = useFlags('useFlagsReady');
  const [readyClient, setReadyClient] = useState<WebClient | null>(null);
  useEffect(() => {
    if (!client) return;
    let live = true;
    const unsubscribe = client.on('ready', () => setReadyClient(client));
    void client.ready().then((ok) => ok && live && setReadyClient(client));
    return () => {
      live = false;
      unsubscribe();
    };
  }, [client]);
  return client !== null && readyClient === client;
}

/** Anything with the Node SDK's `allFlags(context)`: `createClient` from `@switchyard/sdk/node`. */
export interface FlagSource<C> {
  allFlags(context: C): Record<string, unknown>;
  /** The rule set behind it (the Node SDK has one): tells which flags are visible to client keys. */
  getRuleSet?(): { flags: Record<string, { clientVisible?: boolean }> } | undefined;
}

/**
 * On the server: this user's values, to render with (`<SwitchyardProvider bootstrap>`) and to send
 * to the page (`createWebClient({ bootstrap })`). Values only — never the rules — reach the page.
 * A plain function of the Node client, so importing it pulls no Node code into browser bundles.
 * @example const bootstrap = bootstrapFor(nodeClient, { targetingKey: user.id, plan: user.plan });
 */
export function bootstrapFor<C>(source: FlagSource<C>, context: C): FlagValues {
  const values = source.allFlags(context);
  // The page gets what its client key would get: flags marked visible to client keys only — a
  // hidden flag rendered on the server would leak its value and vanish on the first re-fetch.
  const flags = source.getRuleSet?.()?.flags;
  if (!flags) return { ...values };
  const visible: FlagValues = {};
  for (const key of Object.keys(values)) if (Object.hasOwn(flags, key) && flags[key]!.clientVisible) visible[key] = values[key];
  return visible;
}

/**
 * JSON for an inline `<script>`: `<`, `>`, `&` and the line separators are escaped, so a flag value
 * containing `</script>` cannot end the script and inject markup.
 * @example `<script>window.__FLAGS__ = ${inlineJson(bootstrap)}</script>`
 */
export function inlineJson(values: FlagValues): string {
  return JSON.stringify(values).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
