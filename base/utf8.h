// Checks on untrusted text: whether bytes are valid UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF), and how deeply a JSON text nests — found by one linear
// scan with no recursion, so that a hostile text can be refused before a recursive parser or
// printer sees it. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace portrait {

// Whether `text` is valid UTF-8. NUL bytes are valid (they are U+0000); callers that can't
// carry them refuse them separately.
bool IsValidUtf8(std::string_view text);

// Whether the JSON text `text` opens more than `limit` arrays and objects inside one another.
// Brackets inside strings (escapes included) don't count; the text need not be valid JSON.
bool JsonNestsDeeperThan(std::string_view text, size_t limit);

}  // namespace portrait
