// @hey-api/openapi-ts's settings for tests/test_openapi_clients.py: the input (the live
// fake's /openapi.json) and the output folder come from the environment.
export default {
  input: process.env.APOLLO_OPENAPI_URL,
  output: { path: process.env.APOLLO_HEY_OUTPUT, importFileExtension: ".js" },
  plugins: ["@hey-api/client-fetch", "@hey-api/typescript", "@hey-api/sdk"],
};
