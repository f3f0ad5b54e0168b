#pragma once
// The bridge's member of the local room: what local members say reaches Redis through it. Private
// to the bridge's files (redis_bridge.cpp makes it, redis_pubsub.cpp broadcasts as it).
#include "redis/redis_bridge.hpp"

namespace concur::redis {

class RedisBridge::Outlet final : public chat::ChatMember {
 public:
  explicit Outlet(RedisBridge& b) : b_(b) {}
  bool deliver(const chat::ChatMessage& m) override {
    b_.publish(m.text());
    return true;
  }

 private:
  RedisBridge& b_;
};

}  // namespace concur::redis
