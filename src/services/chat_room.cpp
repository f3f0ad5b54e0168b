#include "services/chat_room.hpp"

#include <algorithm>
#include <utility>

#include "services/chat_protocol.hpp"

namespace concur::chat {

ChatRoom::JoinResult ChatRoom::join(std::string_view id, std::shared_ptr<ChatMember> member) {
  std::string key = fold_id(id);
  std::lock_guard lock(mu_);
  if (auto it = by_id_.find(key); it != by_id_.end()) {
    if (it->second.member == member.get()) return {JoinStatus::already_member, it->second.id};
    return {JoinStatus::taken, it->second.id};
  }
  if (max_members_ != 0 && members_->size() >= max_members_) return {JoinStatus::full, {}};
  auto next = std::make_shared<List>(*members_);
  next->push_back(member);
  by_id_.emplace(std::move(key), Entry{std::string(id), member.get()});
  members_ = std::move(next);
  return {JoinStatus::joined, {}};
}

bool ChatRoom::leave(const ChatMember& member) {
  std::shared_ptr<const List> old;  // released after the lock: the last reference may free members
  std::lock_guard lock(mu_);
  auto pos = std::find_if(members_->begin(), members_->end(), [&](const auto& m) { return m.get() == &member; });
  if (pos == members_->end()) return false;
  auto next = std::make_shared<List>();
  next->reserve(members_->size() - 1);
  for (const auto& m : *members_)
    if (m.get() != &member) next->push_back(m);
  for (auto it = by_id_.begin(); it != by_id_.end(); ++it) {
    if (it->second.member == &member) {
      by_id_.erase(it);
      break;
    }
  }
  old = std::exchange(members_, std::move(next));
  return true;
}

size_t ChatRoom::broadcast(const ChatMember* from, const ChatMessage& m) const {
  std::shared_ptr<const List> snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot = members_;
  }
  size_t delivered = 0;
  for (const auto& member : *snapshot)
    if (member.get() != from && member->deliver(m)) ++delivered;
  return delivered;
}

size_t ChatRoom::size() const {
  std::lock_guard lock(mu_);
  return members_->size();
}

std::vector<std::string> ChatRoom::ids() const {
  std::vector<std::string> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, e] : by_id_) out.push_back(e.id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace concur::chat
