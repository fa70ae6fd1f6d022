import { LocalUserNameClaims } from '../../src/scim/userNameClaims';

// One process's userName claims: writes of one name one after another, other names alongside, and a write that
// fails hands the name on.

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('LocalUserNameClaims', () => {
  it('runs the writes of one name one after another, and of other names alongside', async () => {
    const claims = new LocalUserNameClaims();
    const order: string[] = [];
    const firstHeld = deferred();
    const first = claims.holding('emp3', async () => {
      order.push('first starts');
      await firstHeld.promise;
      order.push('first ends');
    });
    const second = claims.holding('emp3', async () => {
      order.push('second starts');
    });
    await claims.holding('emp4', async () => {
      order.push('other name');
    });
    firstHeld.resolve();
    await Promise.all([first, second]);
    expect(order).toEqual(['first starts', 'other name', 'first ends', 'second starts']);
    expect(claims.size).toBe(0);
  });

  it('a write that fails hands the name to the next, and its caller gets the failure', async () => {
    const claims = new LocalUserNameClaims();
    const failed = claims.holding('emp5', async () => {
      throw new Error('Kit refused');
    });
    const next = claims.holding('emp5', async () => 'created');
    await expect(failed).rejects.toThrow('Kit refused');
    await expect(next).resolves.toBe('created');
    expect(claims.size).toBe(0);
  });
});
