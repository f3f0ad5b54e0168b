#include "redis/publish_queue.hpp"

namespace concur::redis {

bool PublishQueue::push(std::string payload, Clock::time_point now) {
  if (bytes_ + payload.size() > max_bytes_) {
    ++dropped_;
    return false;
  }
  bytes_ += payload.size();
  q_.push_back({std::move(payload), now});
  return true;
}

const std::string* PublishQueue::next_to_send(Clock::time_point now) {
  // Only unsent entries can expire: one in flight may already be on its way to the others.
  while (in_flight_ < q_.size() && in_flight_ == 0 && now - q_.front().queued > max_age_) {
    bytes_ -= q_.front().payload.size();
    q_.pop_front();
    ++expired_;
  }
  if (in_flight_ >= q_.size()) return nullptr;
  return &q_[in_flight_++].payload;
}

void PublishQueue::confirm() {
  if (in_flight_ == 0 || q_.empty()) return;
  bytes_ -= q_.front().payload.size();
  q_.pop_front();
  --in_flight_;
}

}  // namespace concur::redis
