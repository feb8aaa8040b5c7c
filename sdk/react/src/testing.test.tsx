import { createTestClient } from '@switchyard/sdk/testing';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { bootstrapFor, SwitchyardProvider, useFlag, useVariation } from './index.js';

/**
 * Example: testing a component on both sides of a flag with `@switchyard/sdk/testing`, no server.
 * The provider takes any client with the web client's API: `createTestClient(…).webClient(user)` is
 * one, and `bootstrapFor(testClient, user)` gives the values a server render uses.
 */

function Checkout() {
  const newCheckout = useFlag('new-checkout');
  const theme = useVariation('checkout-theme', 'light');
  return <p>{`${newCheckout ? 'new' : 'old'} checkout, ${theme}`}</p>;
}

function render(userId: string, flags = createTestClient({ flags: { 'new-checkout': true, 'checkout-theme': 'dark' }, users: { u1: { 'new-checkout': false } } })) {
  return renderToString(
    <SwitchyardProvider client={flags.webClient(userId)} bootstrap={bootstrapFor(flags, userId)}>
      <Checkout />
    </SwitchyardProvider>,
  );
}

describe('a component tested with createTestClient', () => {
  it('renders both sides of the flag, per user', () => {
    expect(render('u2')).toBe('<p>new checkout, dark</p>');
    expect(render('u1')).toBe('<p>old checkout, dark</p>');
  });

  it('follows set()', () => {
    const flags = createTestClient({ flags: { 'new-checkout': false } });
    expect(render('u1', flags)).toBe('<p>old checkout, light</p>');
    flags.set('new-checkout', true, 'u1');
    expect(render('u1', flags)).toBe('<p>new checkout, light</p>');
  });
});
