import { subscriberAnswer } from '../answers';
import { v3SubscriberTagsAnswer } from './answers';

// The v3 reads of one subscriber, shared by the subscriber and tag modules (a tag's untag checks membership).

export function v3SubscriberRequest(id: number) {
  return {
    method: 'GET',
    endpoint: 'GET /v3/subscribers/:id',
    path: `/v3/subscribers/${id}`,
    repeat: 'idempotent',
    answer: subscriberAnswer,
  } as const;
}

export function v3SubscriberTagsRequest(id: number) {
  return {
    method: 'GET',
    endpoint: 'GET /v3/subscribers/:id/tags',
    path: `/v3/subscribers/${id}/tags`,
    repeat: 'idempotent',
    answer: v3SubscriberTagsAnswer,
  } as const;
}
