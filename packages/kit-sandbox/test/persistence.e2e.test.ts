import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import axios from 'axios';
import { startKitSandbox } from '../src';
import { kitHttp } from './sandboxHttp';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kit-sandbox-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('dataFile persistence', () => {
  it('keeps the account, the API key and cursors across a restart', async () => {
    const dataFile = join(dir, 'kit.json');
    const first = await startKitSandbox({ dataFile });
    const http = kitHttp(first);
    first.store.createCustomField('Last name');
    const tag = (await http.post('/v4/tags', { name: 'Persisted' })).data.tag;
    const s = (
      await http.post('/v4/subscribers', {
        email_address: 'keep@example.com',
        first_name: 'Kept',
        fields: { last_name: 'L' },
      })
    ).data.subscriber;
    await http.post(`/v4/tags/${tag.id}/subscribers/${s.id}`);
    first.store.seedSubscribers(20);
    await http.post(`/v4/subscribers/${s.id + 1}/unsubscribe`);
    const page = await http.get('/v4/subscribers?per_page=5&sort_field=updated_at');
    await first.close();

    const saved = JSON.parse(await readFile(dataFile, 'utf8'));
    expect(saved.version).toBe(1);
    expect(JSON.stringify(saved)).toContain('keep@example.com');

    const second = await startKitSandbox({ dataFile });
    try {
      expect(second.apiKey).toBe(first.apiKey);
      const again = kitHttp(second);
      expect((await again.get(`/v4/subscribers/${s.id}`)).data.subscriber).toEqual(s);
      expect(second.store.subscribersOfTag(tag.id)).toEqual([s.id]);
      expect(second.store.getSubscriber(s.id + 1)!.state).toBe('inactive');
      expect(second.store.counts()).toMatchObject({ subscribers: 21, tags: 1, taggings: 1, customFields: 1 });
      const next = await again.get(
        `/v4/subscribers?per_page=5&sort_field=updated_at&after=${encodeURIComponent(page.data.pagination.end_cursor)}`,
      );
      expect(next.status).toBe(200);
      const firstIds = page.data.subscribers.map((x: { id: number }) => x.id);
      expect(next.data.subscribers.map((x: { id: number }) => x.id).some((id: number) => firstIds.includes(id))).toBe(
        false,
      );
      // New rows continue the id sequence instead of reusing ids.
      const created = await again.post('/v4/subscribers', { email_address: 'after-restart@example.com' });
      expect(created.data.subscriber.id).toBe(22);
    } finally {
      await second.close();
    }
  });

  it('saves debounced while running, and keeps rotated OAuth tokens', async () => {
    const dataFile = join(dir, 'kit.json');
    const oauth = { clientId: 'c', clientSecret: 's', accessToken: 'a0', refreshToken: 'r0' };
    const first = await startKitSandbox({ dataFile, oauth });
    first.store.addSubscriber({ email_address: 'early@example.com' });
    // Saved while running, without close(): polls the file (every 50 ms, 200 times at most) for the write.
    let saved = '';
    for (let attempt = 0; attempt < 200 && !saved.includes('early@example.com'); attempt++) {
      await new Promise((r) => setTimeout(r, 50));
      saved = await readFile(dataFile, 'utf8').catch(() => '');
    }
    expect(saved).toContain('early@example.com');

    const grant = await axios.post(
      `${first.url}/oauth/token`,
      { grant_type: 'refresh_token', refresh_token: 'r0', client_id: 'c' },
      { proxy: false },
    );
    await first.close();

    const second = await startKitSandbox({ dataFile, oauth });
    try {
      const bearer = (token: string) => kitHttp(second, { Authorization: `Bearer ${token}` });
      expect((await bearer(grant.data.access_token).get('/v4/account')).status).toBe(200);
      expect((await bearer('a0').get('/v4/account')).status).toBe(401);
      expect(second.oauthTokens()!.refreshToken).toBe(grant.data.refresh_token);
    } finally {
      await second.close();
    }
  });
});
