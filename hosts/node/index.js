// forge-authz for Node: the policy component (transpiled by jco) behind a small API whose
// calls return values instead of throwing. See README.md and index.d.ts.

export { DEFAULT_BUDGET_MS, Policy, describeVariant } from './lib/policy.js';
export { boundaryFacts, queryJson } from './lib/boundary.js';
export {
  World,
  composeFacts,
  configFromJson,
  recordFromTokenDef,
  tokenDefFromRecord,
  tokenFactsFromRecord,
  viewerName,
} from './lib/facts.js';
export {
  decisionOutput,
  failureOutput,
  httpMethod,
  permissionsOutput,
  readRequest,
  refChange,
  repositoryPath,
  verdictStatus,
} from './lib/request.js';
export {
  AUTHORIZER_EXPORT,
  CONTRACT_VERSION,
  GENERATED_DIR,
  CARGO_POLICY_WASM,
  ModuleRefused,
  PolicyModule,
  compileModule,
  defaultModuleBytes,
  loadPrebuiltModule,
  sha256Hex,
  tuneGlue,
} from './lib/module.js';
export { TrustRefused, parsePublicKey, readTrust, verifyModule } from './lib/trust.js';
export { plain, secretDigest, hash256FromBytes, hash256ToBytes } from './lib/util.js';
export { authorizeHttp, expressAuthorize, mapDecisionToHttp, peerAddressOf } from './lib/middleware.js';
