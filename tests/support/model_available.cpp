#include "support/model_available.hpp"

#include "models/model.hpp"

namespace concur::test {

std::string why_model_cannot_run(const std::string& model) {
  const ModelInfo* info = find_model(model);
  if (!info) return {};
  std::string why = model_unavailable(*info);
  return why.empty() ? why : model + " cannot run here: " + why;
}

}  // namespace concur::test
