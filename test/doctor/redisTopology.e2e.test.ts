import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { runDoctor } from '../../src/app/doctorCommand';
import type { DoctorReport } from '../../src/doctor/doctor';
import { TOKEN } from '../support/harness';
import { eventually } from '../support/privateRedis';
import { hasRedisTopologies, SentinelTopology } from '../support/redisTopologies';

// doctor's redisTopology check against a real sentinel topology: a primary with a replica passes; the same
// primary once its only replica is gone fails, with the line that says how to fix it before go-live.

const describeTopologies = hasRedisTopologies ? describe : describe.skip;

const topologyCheck = (report: DoctorReport) => report.checks.find((c) => c.id === 'redisTopology');

describeTopologies('doctor: redisTopology (sentinel)', () => {
  let topology: SentinelTopology;
  let sandbox: KitSandbox;
  beforeAll(async () => {
    topology = await SentinelTopology.start();
    sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
  }, 60_000);
  afterAll(async () => {
    await sandbox?.close();
    await topology?.stop();
  });

  const doctor = () =>
    runDoctor(
      {
        ...topology.env,
        KIT_API_URL: sandbox.url,
        KIT_API_KEY: sandbox.apiKey,
        KIT_RATE_WINDOW_MS: '200',
        SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
      },
      { redisWaitMs: 5000 },
    );

  it('passes with a primary and a connected replica, naming both', async () => {
    const check = topologyCheck(await doctor());
    expect(check).toMatchObject({
      status: 'pass',
      result: `sentinel: primary 127.0.0.1:${topology.primary.port} with 1 replica(s)`,
    });
  });

  it('fails when the primary has no replica, and says to attach one', async () => {
    await topology.killNode(topology.replica);
    await eventually(async () => (await topology.connectedReplicas()) === 0);
    const report = await doctor();
    expect(topologyCheck(report)).toMatchObject({
      status: 'fail',
      result: expect.stringMatching(/has no connected replica: a failover would have nothing to promote/),
      fix: expect.stringMatching(/Attach at least one replica \(replicaof\)/),
    });
    expect(report.ok).toBe(false);
  });
});
