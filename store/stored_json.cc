#include "store/stored_json.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "store/json_scan.h"

namespace portrait::store {
namespace {

using nlohmann::json;
namespace od = simdjson::ondemand;

// Deeper than anything the vault seals (a purchase book is three levels); deeper documents go
// to json::parse.
constexpr int kMaxDepth = 32;

bool Kept(const std::vector<std::string>* only, std::string_view key) {
  return !only || std::find(only->begin(), only->end(), key) != only->end();
}

std::string_view Token(od::value& v) { return v.raw_json_token(); }
std::string_view Token(od::document& doc) {
  std::string_view token;
  return doc.raw_json_token().get(token) == simdjson::SUCCESS ? token : std::string_view();
}

// Whether a number's text has more than 19 digits before its exponent: simdjson 3.0.1 misreads
// some of those ("0.123456789012345678901" as 0.0128), so json::parse reads them.
bool HasLongMantissa(std::string_view token) {
  int digits = 0;
  for (const char c : token) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c != '-' && c != '.') {
      break;
    }
  }
  return digits > 19;
}

// Builds `v` (a value, or the document itself) into `*out` as json::parse would: a
// non-negative integer as unsigned, a negative one as signed, any other number as a double.
// What `*out` already holds is reused (a pass that reads a million texts into one scratch value
// keeps its allocations): an object's entries are merged in key order — built in place, those
// the text lacks erased —, an array's elements built in place. With `out` null it builds nothing
// and only checks what json::parse would check (an entry a pass skips must still be valid JSON,
// or json::parse refuses the whole text). At depth 0 an object builds only the entries `only`
// names, into a fresh object. False when simdjson refuses something and when an object's keys
// are not in ascending order (or one is there twice; every text the vault seals has them in
// order): json::parse then decides.
template <typename V>
bool BuildAtDepth(V& v, json* out, int depth, const std::vector<std::string>* only) {
  if (depth > kMaxDepth) {
    return false;
  }
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) {
    return false;
  }
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if (v.get_object().get(object) != simdjson::SUCCESS) {
        return false;
      }
      const bool filtered = depth == 0 && only;
      if (out && (filtered || !out->is_object())) {
        *out = json::object();
      }
      json::object_t* entries = out && !filtered ? out->get_ptr<json::object_t*>() : nullptr;
      json::object_t::iterator at = entries ? entries->begin() : json::object_t::iterator();
      std::string_view previous;
      bool first = true;
      for (auto entry : object) {
        std::string_view key;
        od::value value;
        if (entry.unescaped_key().get(key) != simdjson::SUCCESS ||
            entry.value().get(value) != simdjson::SUCCESS) {
          return false;
        }
        json* slot = nullptr;
        if (entries) {
          if (!first && key <= previous) {
            return false;
          }
          first = false;
          previous = key;
          while (at != entries->end() && std::string_view(at->first) < key) {
            at = entries->erase(at);
          }
          if (at == entries->end() || at->first != key) {
            at = entries->emplace_hint(at, std::string(key), nullptr);
          }
          slot = &at->second;
          ++at;
        } else if (out && Kept(only, key)) {
          slot = &(*out)[std::string(key)];
        }
        if (!BuildAtDepth(value, slot, depth + 1, nullptr)) {
          return false;
        }
      }
      if (entries) {
        entries->erase(at, entries->end());
      }
      return true;
    }
    case od::json_type::array: {
      od::array array;
      if (v.get_array().get(array) != simdjson::SUCCESS) {
        return false;
      }
      json::array_t* items = nullptr;
      if (out) {
        if (!out->is_array()) {
          *out = json::array();
        }
        items = out->get_ptr<json::array_t*>();
      }
      size_t n = 0;
      for (auto element : array) {
        od::value value;
        if (element.get(value) != simdjson::SUCCESS) {
          return false;
        }
        json* slot = nullptr;
        if (items) {
          if (n == items->size()) {
            items->emplace_back();
          }
          slot = &(*items)[n];
        }
        ++n;
        if (!BuildAtDepth(value, slot, depth + 1, nullptr)) {
          return false;
        }
      }
      if (items) {
        items->resize(n);
      }
      return true;
    }
    case od::json_type::string: {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) {
        return false;
      }
      if (out && out->is_string()) {
        out->get_ref<std::string&>().assign(s);
      } else if (out) {
        *out = std::string(s);
      }
      return true;
    }
    case od::json_type::boolean: {
      bool b = false;
      if (v.get_bool().get(b) != simdjson::SUCCESS) {
        return false;
      }
      if (out) {
        *out = b;
      }
      return true;
    }
    case od::json_type::null: {
      bool null = false;
      if (v.is_null().get(null) != simdjson::SUCCESS || !null) {
        return false;
      }
      if (out) {
        *out = nullptr;
      }
      return true;
    }
    case od::json_type::number: {
      od::number_type kind;
      if (v.get_number_type().get(kind) != simdjson::SUCCESS) {
        return false;
      }
      json number;
      if (kind == od::number_type::floating_point_number) {
        double d = 0;
        if (HasLongMantissa(Token(v)) || v.get_double().get(d) != simdjson::SUCCESS) {
          return false;
        }
        number = d;
      } else if (kind == od::number_type::unsigned_integer) {
        uint64_t u = 0;
        if (v.get_uint64().get(u) != simdjson::SUCCESS) {
          return false;
        }
        number = u;
      } else {
        int64_t i = 0;
        if (v.get_int64().get(i) != simdjson::SUCCESS) {
          return false;
        }
        if (i > 0 || (i == 0 && !Token(v).starts_with('-'))) {  // json::parse reads "-0" as signed
          number = static_cast<uint64_t>(i);
        } else {
          number = i;
        }
      }
      if (out) {
        *out = std::move(number);
      }
      return true;
    }
  }
  return false;
}

std::optional<json> ParseWithNlohmann(std::string_view text, const std::vector<std::string>* only) {
  json value;
  if (only) {
    // Depth 1 is the object's own entries: a key `only` does not name is dropped with its value.
    const json::parser_callback_t keep = [only](int depth, json::parse_event_t event,
                                                json& parsed) {
      return depth != 1 || event != json::parse_event_t::key || !parsed.is_string() ||
             Kept(only, parsed.get_ref<const std::string&>());
    };
    value = json::parse(text, keep, /*allow_exceptions=*/false);
  } else {
    value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  }
  if (value.is_discarded()) {
    return std::nullopt;
  }
  return value;
}

// Whether `text` is a JSON string of printable ASCII without escapes (a field value such as
// "Hangzhou" or "female"): its value is its inside, as json::parse would read it.
bool IsPlainString(std::string_view text) {
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') {
    return false;
  }
  return std::all_of(text.begin() + 1, text.end() - 1,
                     [](char c) { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'; });
}

}  // namespace

std::optional<json> ParseStoredJson(std::string_view text, const std::vector<std::string>* only) {
  if (IsPlainString(text)) {
    return json(std::string(text.substr(1, text.size() - 2)));
  }
  od::document doc;
  od::json_type type;
  json out;
  // Only an object or an array at the root: simdjson 3.0 reads a number, true, false or null
  // there through a fixed buffer that can cut a long one short or accept "falsey".
  if (json_scan::Start(text, doc) && doc.type().get(type) == simdjson::SUCCESS &&
      (type == od::json_type::object || type == od::json_type::array) &&
      BuildAtDepth(doc, &out, 0, only) && json_scan::Ended(doc)) {
    return out;
  }
  return ParseWithNlohmann(text, only);
}

namespace json_scan {

bool Start(std::string_view text, od::document& doc) {
  if (text.size() > kMaxScanned) {
    return false;
  }
  // Scratch space, one per thread: a parser allocates its buffers on first use, and doing that
  // (or padding a copy) for each of a million small documents would cost more than the scan.
  constexpr size_t kPadding = simdjson::SIMDJSON_PADDING;
  thread_local od::parser parser(kMaxScanned);
  thread_local const std::unique_ptr<char[]> padded(new char[kMaxScanned + kPadding]);
  std::memcpy(padded.get(), text.data(), text.size());
  std::memset(padded.get() + text.size(), 0, kPadding);
  return parser.iterate(padded.get(), text.size(), text.size() + kPadding).get(doc) ==
         simdjson::SUCCESS;
}

bool Build(od::value& v, json* out) { return BuildAtDepth(v, out, 1, nullptr); }

// (A scalar document's getters refuse trailing content themselves.)
bool Ended(od::document& doc) { return doc.current_location().error() == simdjson::OUT_OF_BOUNDS; }

}  // namespace json_scan
}  // namespace portrait::store
