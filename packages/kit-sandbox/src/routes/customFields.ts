import { customFieldJson } from '../customFieldCatalog';
import { SortedArraySequence } from '../keyedSequence';
import { idCursors, pageOf, parsePageParams } from '../pagination';
import type { Route } from '../router';
import { idParam, type RouteContext } from './context';

export function customFieldRoutes({ store }: RouteContext): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/v4/custom_fields',
      handle: ({ query }) => {
        const page = pageOf({
          sequence: new SortedArraySequence(store.customFields.all(), (f) => f.id),
          codec: idCursors,
          order: 'asc',
          params: parsePageParams(query),
          matches: () => true,
        });
        return { status: 200, body: { custom_fields: page.items.map(customFieldJson), pagination: page.pagination } };
      },
    },
    {
      method: 'POST',
      pattern: '/v4/custom_fields',
      handle: ({ body }) => ({
        status: 201,
        body: { custom_field: customFieldJson(store.createFieldRecord(body.label)) },
      }),
    },
    {
      // Kit: the key follows the new label, the name stays, and the values stay with the field.
      method: 'PUT',
      pattern: '/v4/custom_fields/:id',
      handle: (x) => ({
        status: 200,
        body: { custom_field: customFieldJson(store.renameCustomField(idParam(x, 'id'), x.body.label)) },
      }),
    },
    {
      method: 'DELETE',
      pattern: '/v4/custom_fields/:id',
      handle: (x) => {
        store.deleteCustomField(idParam(x, 'id'));
        return { status: 204 };
      },
    },
  ];
}
