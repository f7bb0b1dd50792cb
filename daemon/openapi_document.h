// docs/openapi.json, the OpenAPI 3.1 document of the HTTP API, as the build found it: CMake
// writes its bytes into a generated source (daemon/embed_file.cmake), so the document
// `GET /v1/openapi.json` serves is always the repository's and no file is read at run time.
#pragma once

#include <string_view>

namespace portrait::daemon {

// The document's bytes, exactly as in docs/openapi.json.
std::string_view OpenApiDocument();

}  // namespace portrait::daemon
