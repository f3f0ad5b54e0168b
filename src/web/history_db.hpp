#pragma once
// collect --web --db FILE: the dashboard starts with the readings already stored in the database
// (SPEC §4), read once at start-up from the table that iot/db_sink.hpp writes:
//   readings(time REAL, device TEXT, metric TEXT, value REAL), one row per field.
// Rows of one device with one time are one reading. Read-only: the collector's DbSink stays the
// only writer (WAL lets both work at once).
#include <string>

#include "web/readings_hub.hpp"

namespace concur::web {

// Adds the readings newer than `since` (Unix s) to `hub`; returns how many. Throws
// std::runtime_error "cannot read history from FILE: <reason>".
size_t load_history(const std::string& db_path, ReadingsHub& hub, double since);

}  // namespace concur::web
