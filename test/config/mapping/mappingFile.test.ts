import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_MAPPING } from '../../../src/config/mapping/defaultMapping';
import { MappingFileError, parseMappingFile } from '../../../src/config/mapping/mappingFile';
import { validateCli } from '../../../src/config/mapping/validateCli';

// The mapping file: the shipped files, and problems named by line, before the server starts.

const root = path.resolve(__dirname, '../../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

const HEADER = `version: 1
user:
  - scim: emails
    kit: email_address
  - scim: userName
    field: scim_user_name
`;

function problemsOf(text: string): string[] {
  try {
    parseMappingFile(text, 'm.yaml');
  } catch (err) {
    if (err instanceof MappingFileError) return err.problems;
    throw err;
  }
  throw new Error('expected the file to be refused');
}

describe('mapping files', () => {
  it('mapping/default.yaml is exactly the built-in default mapping', () => {
    expect(parseMappingFile(read('mapping/default.yaml'))).toEqual(DEFAULT_MAPPING);
  });

  it('mapping/entra-validator.yaml keeps the default homes and adds name.formatted and addresses', () => {
    const m = parseMappingFile(read('mapping/entra-validator.yaml'));
    for (const d of DEFAULT_MAPPING.user) expect(m.user).toContainEqual(d);
    expect(m.user).toContainEqual(
      expect.objectContaining({ source: expect.objectContaining({ text: 'name.formatted' }), type: 'string' }),
    );
    expect(m.user).toContainEqual(
      expect.objectContaining({ source: expect.objectContaining({ text: 'addresses' }), type: 'complex' }),
    );
  });

  it('names the line of a YAML syntax error', () => {
    const [p] = problemsOf(`${HEADER}  - scim: title\n    field: [unclosed\n`);
    expect(p).toMatch(/^m\.yaml: line \d+/);
  });

  it('names the line and the attribute of an unknown source', () => {
    const problems = problemsOf(`${HEADER}  - scim: name.nickname\n    field: x\n`);
    expect(problems).toEqual([
      expect.stringMatching(/^m\.yaml: line 7, column 11: .*"nickname" is not a sub-attribute of "name"/),
    ]);
  });

  it('names the line of a shape error (zod), e.g. an unknown extension attribute type', () => {
    const text = `${HEADER}extensions:
  - schema: urn:ietf:params:scim:schemas:extension:acme:2.0:User
    name: Acme
    attributes:
      - name: level
        type: number
`;
    const problems = problemsOf(text);
    expect(problems).toEqual([expect.stringMatching(/line 12, column 15: extensions\.0\.attributes\.0\.type/)]);
  });

  it('refuses what would give an attribute no home, or two', () => {
    const cases: Array<[string, RegExp]> = [
      ['  - scim: phoneNumbers.value\n    field: p\n', /holds several values: say which/],
      ['  - scim: password\n    field: p\n', /fixed home in Kit/],
      ['  - scim: title\n    field: SCIM_USER_NAME\n', /already holds userName/],
      ['  - scim: title\n    field: scim_last_modified\n', /reserved/],
      ['  - scim: name\n    field: n\n  - scim: name.formatted\n    field: f\n', /overlaps "name"/],
      ['  - scim: title\n    kit: email_address\n', /only "emails"/],
      ['  - scim: addresses\n    kit: first_name\n', /first_name holds text/],
      ['  - scim: title\n    field: t\n    kit: first_name\n', /exactly one of/],
      [
        '  - scim: urn:ietf:params:scim:schemas:extension:other:2.0:User:x\n    field: x\n',
        /neither core, enterprise nor declared/,
      ],
      ['  - scim: phoneNumbers[value eq "1"].value\n    field: x\n', /only select by type/],
    ];
    for (const [entry, message] of cases) {
      expect(problemsOf(`${HEADER}${entry}`)).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
    }
  });

  it('holds Kit’s address fixed with mutability: immutable, and takes a mutability on no other entry', () => {
    const fixed = parseMappingFile(
      read('test/fixtures/mapping/immutable-email.yaml'),
      'test/fixtures/mapping/immutable-email.yaml',
    );
    expect(fixed.user.find((a) => a.target.kind === 'email_address')).toMatchObject({ mutability: 'immutable' });
    expect(DEFAULT_MAPPING.user.some((a) => a.mutability !== undefined)).toBe(false);
    expect(problemsOf(`${HEADER}  - scim: title\n    field: t\n    mutability: immutable\n`)).toEqual([
      expect.stringMatching(/line 9.*only the "kit: email_address" entry takes a mutability/),
    ]);
    expect(problemsOf(HEADER.replace('kit: email_address', 'kit: email_address\n    mutability: readOnly'))).toEqual([
      expect.stringMatching(/mutability/),
    ]);
  });

  it('requires emails and userName homes, and that every declared extension attribute is mapped', () => {
    expect(problemsOf('version: 1\nuser:\n  - scim: title\n    field: t\n')).toEqual([
      expect.stringMatching(/emails must be mapped to email_address/),
      expect.stringMatching(/userName must be mapped to a custom field/),
    ]);
    const text = `${HEADER}extensions:
  - schema: urn:ietf:params:scim:schemas:extension:acme:2.0:User
    name: Acme
    attributes:
      - name: level
        type: integer
`;
    expect(problemsOf(text)).toEqual([
      expect.stringMatching(/line 11.*acme:2\.0:User:level is declared but not mapped/),
    ]);
  });

  it('says that Kit tags hold only a name when group attributes are mapped', () => {
    expect(problemsOf(`${HEADER}groups:\n  - scim: externalId\n    field: g\n`)).toEqual([
      expect.stringMatching(/Kit tags hold only a name/),
    ]);
  });

  it('refuses prototype keys, with their line, before building objects from the file', () => {
    const problems = problemsOf(`${HEADER}  - scim: title\n    __proto__: { polluted: true }\n    field: t\n`);
    expect(problems).toEqual([expect.stringMatching(/line 8, column 5: "__proto__" is not allowed/)]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a huge file before parsing it', () => {
    expect(problemsOf(`${HEADER}# ${'x'.repeat(300 * 1024)}\n`)).toEqual([expect.stringMatching(/larger than/)]);
  });
});

describe('convertkit-scim validate', () => {
  const run = (args: string[], env: Record<string, string> = {}) => {
    let out = '';
    let err = '';
    const code = validateCli(args, { env, stdout: (t) => (out += t), stderr: (t) => (err += t) });
    return { code, out, err };
  };

  it('exits 0 and lists where each attribute lives for a valid file', () => {
    const r = run([path.join(root, 'mapping/entra-validator.yaml')]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('addresses -> custom field "scim_addresses" (complex)');
    expect(r.out).toContain('name.givenName -> first_name');
  });

  it('exits 1 with each problem and its line for a broken file, read from SCIM_MAPPING_FILE', () => {
    const r = run([], { SCIM_MAPPING_FILE: path.join(root, 'test/fixtures/mapping/broken.yaml') });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/broken\.yaml: line 8, column 11: "name\.nickname": "nickname" is not a sub-attribute/);
  });

  it('names every problem of every kind in one run, in the order of the file, each with its line and column', () => {
    const file = path.join(root, 'test/fixtures/mapping/every-problem.yaml');
    const r = run([file]);
    expect(r.code).toBe(1);
    const lines = r.err.split('\n').filter((l) => l.startsWith('  - '));
    expect(lines).toEqual([
      expect.stringMatching(/every-problem\.yaml: line 11, column 13: user\.2: unknown key "colour"$/),
      expect.stringMatching(/line 12, column 11: "name\.nickname": "nickname" is not a sub-attribute of "name"$/),
      expect.stringMatching(/line 15, column 12: "scim_deleted_at" is reserved/),
      expect.stringMatching(/line 17, column 12: the field "SCIM_USER_NAME" already holds userName$/),
      expect.stringMatching(/line 25, column 15: extensions\.0\.attributes\.0\.type: /),
      expect.stringMatching(/line 27, column 3: groups: /),
    ]);
    expect(r.err).toContain(`6 problems in ${file}`);
  });

  it('leaves out what only follows from an entry refused for its shape', () => {
    // The first entry (emails) has an unknown key: "emails must be mapped" would blame the same line twice.
    const problems = problemsOf(`version: 1
user:
  - scim: emails
    kit: email_address
    extra: 1
  - scim: userName
    field: scim_user_name
`);
    expect(problems).toEqual([expect.stringMatching(/line 5, column 12: user\.0: unknown key "extra"$/)]);
  });

  it('is a sub-command of the binary that exits without starting the server', () => {
    const { spawnSync } = jest.requireActual('node:child_process') as typeof import('node:child_process');
    const r = spawnSync(
      process.execPath,
      [require.resolve('tsx/cli'), path.join(root, 'src/app/main.ts'), 'validate', 'test/fixtures/mapping/broken.yaml'],
      { cwd: root, env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/broken\.yaml: line 8/);
    expect(r.stdout).not.toMatch(/listening|SANDBOX/);
  });

  it('exits 1 for a missing file and 2 for bad arguments', () => {
    expect(run(['/nonexistent/mapping.yaml']).code).toBe(1);
    expect(run([]).code).toBe(2);
    expect(run(['a.yaml', 'b.yaml']).code).toBe(2);
  });
});

describe('SCIM_MAPPING_FILE in the configuration', () => {
  // Imported here so the rest of this file stays free of config's dependencies.
  const { ConfigError, loadConfig } = jest.requireActual(
    '../../../src/config/environment',
  ) as typeof import('../../../src/config/environment');

  it('loads the named file once, at start-up', () => {
    const config = loadConfig({ SCIM_MAPPING_FILE: path.join(root, 'mapping/entra-validator.yaml') });
    expect(config.scim.mapping.user.map((u) => u.source.text)).toContain('addresses');
    expect(loadConfig({}).scim.mapping).toBe(DEFAULT_MAPPING);
  });

  it('stops the start-up with the variable, the file and the line of each problem', () => {
    const file = path.join(root, 'test/fixtures/mapping/broken.yaml');
    expect(() => loadConfig({ SCIM_MAPPING_FILE: file })).toThrow(ConfigError);
    expect(() => loadConfig({ SCIM_MAPPING_FILE: file })).toThrow(/SCIM_MAPPING_FILE: .*broken\.yaml: line 8/);
  });
});
