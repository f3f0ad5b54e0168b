#include "clients/session_io.hpp"

#include "core/log.hpp"

namespace concur {

void PipeIo::print(std::string_view line) { out_line(line); }
void PipeIo::print_error(std::string_view line) { err_line(line); }

}  // namespace concur
