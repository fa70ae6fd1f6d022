// The layering of src/ (README "Layout"), checked by `npm run lint`. Dependencies only point down:
//   app → http, events, status, doctor → scim → kit → config → platform
// A layer may use any layer below it, never one above it or beside it; no import circles, type imports included.
const LAYERS = ['app', 'http|events|status|doctor', 'scim', 'kit', 'config', 'platform'];

/** Every layer below the one at `index`, as a path pattern. */
function below(index) {
  return `^src/(${LAYERS.slice(index + 1).join('|')})/`;
}

const layerRules = LAYERS.slice(1).map((layer, i) => {
  const index = i + 1;
  const same = layer.split('|');
  return same.map((name) => ({
    name: `${name}-points-down`,
    comment: `src/${name}/ may use only its own folder and ${LAYERS.slice(index + 1).join(', ') || 'no other layer'}`,
    severity: 'error',
    from: { path: `^src/${name}/` },
    to: { path: '^src/', pathNot: [`^src/${name}/`, below(index)] },
  }));
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import circle hides which module is the lower one; split out what both need.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules.flat(),
    {
      name: 'platform-knows-no-web-framework',
      comment: 'The platform layer serves every layer, express handlers live in http/.',
      severity: 'error',
      from: { path: '^src/(platform|config|kit)/' },
      to: { path: '^node_modules/(express|scimmy|scimmy-routers)/' },
    },
    {
      name: 'src-is-not-test-code',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type imports are dependencies too: a circle through `import type` still ties two modules together.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^packages/' },
  },
};
