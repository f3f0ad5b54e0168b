#include "services/chat_room.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <utility>

#include "services/chat_metrics.hpp"
#include "services/chat_protocol.hpp"

namespace concur::chat {

namespace {
std::string new_room_epoch() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}
}  // namespace

ChatRoom::ChatRoom(size_t max_members) : max_members_(max_members), epoch_(new_room_epoch()) {}

ChatRoom::JoinResult ChatRoom::join(std::string_view id, std::shared_ptr<ChatMember> member) {
  return join(id, std::move(member), Resume{});
}

ChatRoom::JoinResult ChatRoom::join(std::string_view id, std::shared_ptr<ChatMember> member, const Resume& resume) {
  std::string key = fold_id(id);
  MutexLock lock(mu_);
  if (auto it = by_id_.find(key); it != by_id_.end()) {
    if (it->second.member == member.get()) return {JoinStatus::already_member, it->second.id};
    return {JoinStatus::taken, it->second.id};
  }
  if (max_members_ != 0 && members_->size() - listeners_ >= max_members_) return {JoinStatus::full, {}};
  auto next = std::make_shared<List>(*members_);
  next->push_back(member);
  by_id_.emplace(std::move(key), Entry{std::string(id), member.get()});
  members_ = std::move(next);
  ChatMember::Replay first;
  if (resume.offsets) first.push_back(std::make_shared<const ChatMessage>(fmt::format("offsets {} {}", epoch_, next_offset_)));
  if (resume.since && keep_) {
    if (resume.epoch != epoch_) {
      first.push_back(std::make_shared<const ChatMessage>("error: history gap: the server restarted"));
    } else if (*resume.since < next_offset_) {
      auto from = std::find_if(recent_.begin(), recent_.end(), [&](const auto& m) { return m->offset() > *resume.since; });
      uint64_t kept = static_cast<uint64_t>(recent_.end() - from);
      if (uint64_t lost = next_offset_ - *resume.since - kept; lost > 0)
        first.push_back(std::make_shared<const ChatMessage>(fmt::format("error: history gap: {} messages lost", lost)));
      first.insert(first.end(), from, recent_.end());
    }
  } else if (replay_ > 0 && !recent_.empty()) {
    size_t n = std::min(replay_, recent_.size());
    first.insert(first.end(), recent_.end() - static_cast<std::ptrdiff_t>(n), recent_.end());
  }
  if (!first.empty()) member->replay(first);
  return {JoinStatus::joined, {}};
}

bool ChatRoom::leave(const ChatMember& member) {
  std::shared_ptr<const List> old;  // released after the lock: the last reference may free members
  std::string released;
  {
    MutexLock lock(mu_);
    auto pos = std::find_if(members_->begin(), members_->end(), [&](const auto& m) { return m.get() == &member; });
    if (pos == members_->end()) return false;
    auto next = std::make_shared<List>();
    next->reserve(members_->size() - 1);
    for (const auto& m : *members_)
      if (m.get() != &member) next->push_back(m);
    for (auto it = by_id_.begin(); it != by_id_.end(); ++it) {
      if (it->second.member == &member) {
        released = std::move(it->second.id);
        by_id_.erase(it);
        break;
      }
    }
    old = std::exchange(members_, std::move(next));
  }
  if (remote_ && !released.empty()) remote_->release(released);
  return true;
}

void ChatRoom::federate(std::shared_ptr<ChatMember> bridge, RemoteIds* ids) {
  MutexLock lock(mu_);
  remote_ = ids;
  auto next = std::make_shared<List>(*members_);
  next->push_back(std::move(bridge));
  ++listeners_;
  members_ = std::move(next);
}

std::optional<RemoteIds::Claim> ChatRoom::claim(std::string_view id, RemoteIds::Done done) {
  if (!remote_) return RemoteIds::Claim{true, {}};
  return remote_->claim(id, std::move(done));
}

bool ChatRoom::evict(std::string_view id, std::string_view error_text) {
  std::shared_ptr<ChatMember> target;
  {
    MutexLock lock(mu_);
    auto it = by_id_.find(fold_id(id));
    if (it == by_id_.end()) return false;
    for (const auto& m : *members_)
      if (m.get() == it->second.member) target = m;
  }
  if (!target || !leave(*target)) return false;
  target->evict(error_text);
  return true;
}

void ChatRoom::keep_history(size_t history, size_t replay, bool resumable) {
  MutexLock lock(mu_);
  history_ = history;
  replay_ = std::min(replay, history);
  keep_ = history_ > 0 && (replay_ > 0 || resumable);
}

size_t ChatRoom::broadcast(const ChatMember* from, const ChatMessage& m, bool record) {
  std::shared_ptr<const List> snapshot;
  {
    MutexLock lock(mu_);
    snapshot = members_;
    if (record && keep_) {
      m.set_offset(++next_offset_);
      if (recent_.size() >= history_) recent_.pop_front();
      recent_.push_back(std::make_shared<const ChatMessage>(m));
    }
  }
  size_t delivered = 0;
  for (const auto& member : *snapshot)
    if (member.get() != from && member->deliver(m)) ++delivered;
  chat_metrics::series().delivered.add(delivered);
  return delivered;
}

size_t ChatRoom::size() const {
  MutexLock lock(mu_);
  return members_->size() - listeners_;
}

std::vector<std::string> ChatRoom::ids() const {
  std::vector<std::string> out;
  {
    MutexLock lock(mu_);
    for (const auto& [key, e] : by_id_) out.push_back(e.id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace concur::chat
