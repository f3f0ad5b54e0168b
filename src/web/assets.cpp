#include "web/assets.hpp"

namespace concur::web {

const Asset* find_asset(std::string_view path) {
  for (const Asset& a : assets())
    if (a.path == path) return &a;
  return nullptr;
}

std::string_view mime_type(std::string_view path) {
  auto ends = [&](std::string_view ext) { return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext; };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

Response asset_response(std::string_view path) {
  const Asset* a = find_asset(path);
  if (!a) return error_response(404, "no such page");
  Response r;
  r.content_type = std::string(mime_type(path));
  r.body = std::string(a->body);
  r.page = r.content_type.starts_with("text/html");
  r.cache = !r.page;
  return r;
}

}  // namespace concur::web
