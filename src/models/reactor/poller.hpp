#pragma once
// Moved to loop/poller.hpp (the poller belongs to the event loop, below the models). This
// forwarding header keeps the collector, device server and load generators building until
// they move onto EventLoop.
#include "loop/poller.hpp"
