#include "base/tag_path.h"

#include <algorithm>
#include <cctype>

namespace portrait {

Status CheckTagPath(std::string_view tag) {
  int levels = 0;
  size_t start = 0;
  while (true) {
    const size_t end = tag.find('/', start);
    std::string_view part = tag.substr(start, end == std::string_view::npos ? end : end - start);
    if (part.empty() || part.size() > 64 ||
        std::any_of(part.begin(), part.end(),
                    [](unsigned char c) { return std::isspace(c) || std::iscntrl(c); })) {
      return Status::InvalidArgument(
          "tags: each level must be 1-64 bytes without spaces (e.g. interest/sports/running)");
    }
    if (++levels > 3) {
      return Status::InvalidArgument("tags: at most 3 levels (e.g. interest/sports/running)");
    }
    if (end == std::string_view::npos) {
      return Status::Ok();
    }
    start = end + 1;
  }
}

}  // namespace portrait
