#include <algorithm>
#include <utility>

#include "models/model.hpp"

namespace concur {

namespace {
struct Row {
  int order;
  ModelInfo info;
};
std::vector<Row>& rows() {
  static std::vector<Row> r;
  return r;
}
}  // namespace

ModelRegistration::ModelRegistration(ModelInfo info, int order) {
  rows().push_back({order, std::move(info)});
}

const std::vector<ModelInfo>& model_registry() {
  static const std::vector<ModelInfo> sorted = [] {
    auto r = rows();
    std::sort(r.begin(), r.end(), [](const Row& a, const Row& b) { return a.order < b.order; });
    std::vector<ModelInfo> out;
    for (auto& row : r) out.push_back(row.info);
    return out;
  }();
  return sorted;
}

std::vector<std::string> model_names(const std::function<bool(const ModelInfo&)>& has) {
  std::vector<std::string> out;
  for (const auto& m : model_registry())
    if (has(m)) out.push_back(m.name);
  return out;
}

int workers_for(const ModelInfo& info, const ServerConfig& cfg) {
  return cfg.workers > 0 ? cfg.workers : std::max(info.default_workers, 1);
}

const ModelInfo* find_model(std::string_view name) {
  for (const auto& m : model_registry())
    if (m.name == name) return &m;
  return nullptr;
}

}  // namespace concur
