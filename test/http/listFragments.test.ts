import fc from 'fast-check';
import { listResponseJson, resourceJson } from '../../src/http/listFragments';
import { LIST_RESPONSE } from '../../src/scim/resources';
import type { RenderResource } from '../../src/scim/render';

describe('list answers from kept resource texts', () => {
  it('are byte for byte one JSON.stringify of the whole ListResponse', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { maxLength: 5 }),
        fc.nat(),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        (resources, totalResults, startIndex) => {
          const whole = JSON.stringify({
            schemas: [LIST_RESPONSE],
            totalResults,
            startIndex,
            itemsPerPage: resources.length,
            Resources: resources,
          });
          const texts = resources.map((r) => JSON.stringify(r));
          expect(listResponseJson(LIST_RESPONSE, texts, totalResults, startIndex)).toBe(whole);
        },
      ),
    );
  });

  it('serialise a frozen resource once per render function and base URL, anything else every time', () => {
    let presented = 0;
    const render = Object.assign((r: Record<string, any>) => ({ ...r }), { pure: true }) as RenderResource;
    const other = Object.assign((r: Record<string, any>) => ({ ...r }), { pure: true }) as RenderResource;
    const present = (value: unknown) => () => {
      presented += 1;
      return value;
    };
    const frozen = Object.freeze({ id: '1' });
    expect(resourceJson(frozen, '/a', render, present({ id: '1' }))).toBe('{"id":"1"}');
    expect(resourceJson(frozen, '/a', render, present({ id: 'x' }))).toBe('{"id":"1"}');
    expect(presented).toBe(1);
    // Another selection, another base URL: rendered again.
    expect(resourceJson(frozen, '/a', other, present({ id: '2' }))).toBe('{"id":"2"}');
    expect(resourceJson(frozen, '/b', other, present({ id: '3' }))).toBe('{"id":"3"}');
    // A resource that may change, or a renderer that promises nothing: every time.
    const live = { id: '1' };
    resourceJson(live, '/a', render, present(live));
    resourceJson(live, '/a', render, present(live));
    const impure = ((r: Record<string, any>) => r) as RenderResource;
    resourceJson(frozen, '/a', impure, present(frozen));
    expect(presented).toBe(6);
  });
});
