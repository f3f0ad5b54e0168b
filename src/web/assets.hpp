#pragma once
// The files of the web pages (web/ in the source tree, uPlot from npm), compiled into the binary
// by cmake/embed_assets.cmake so that a page never needs the network.
#include <string_view>
#include <vector>

#include "web/http_response.hpp"

namespace concur::web {

struct Asset {
  std::string_view path;  // "/chat.js"
  std::string_view body;
};

const std::vector<Asset>& assets();
const Asset* find_asset(std::string_view path);
// "text/javascript; charset=utf-8" for "/chat.js", from the extension.
std::string_view mime_type(std::string_view path);
// A 200 answer with the asset (pages get the Content-Security-Policy), or 404.
Response asset_response(std::string_view path);

}  // namespace concur::web
