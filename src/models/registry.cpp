
#include "models/model.hpp"

namespace concur {

// Each model file defines its row; this table is the one place that lists them, in the order
// `--help`, `bench models` and the tests present them (Stevens' order: the classic designs, then
// the readiness loops, then completions and coroutines).
ModelInfo iterative_model();
ModelInfo thread_model();
ModelInfo process_model();
ModelInfo prefork_model();
ModelInfo pool_model();
ModelInfo select_model();
ModelInfo poll_model();
ModelInfo epoll_model();
ModelInfo uring_model();
ModelInfo coro_model();

const std::vector<ModelInfo>& model_registry() {
  static const std::vector<ModelInfo> table = {
      iterative_model(), thread_model(), process_model(), prefork_model(), pool_model(),
      select_model(),    poll_model(),   epoll_model(),   uring_model(),   coro_model(),
  };
  return table;
}

std::vector<std::string> model_names(const std::function<bool(const ModelInfo&)>& has) {
  std::vector<std::string> out;
  for (const auto& m : model_registry())
    if (has(m)) out.push_back(m.name);
  return out;
}

std::string model_unavailable(const ModelInfo& info) { return info.unavailable ? info.unavailable() : std::string(); }

const ModelInfo* find_model(std::string_view name) {
  for (const auto& m : model_registry())
    if (m.name == name) return &m;
  return nullptr;
}

}  // namespace concur
