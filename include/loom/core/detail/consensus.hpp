#pragma once

// Collective checks: what one rank finds wrong, every rank learns, so that all of them stop
// with the same message instead of some waiting forever for the others.

#include <loom/config.hpp>

#include <loom/core/error.hpp>

#if defined(LOOM_ENABLE_MPI)
#include <mpi.h>
#endif

#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace loom::detail {

#if defined(LOOM_ENABLE_MPI)
/// Every rank passes what went wrong here (or nothing); if any rank failed, every rank throws
/// loom::Error with the message of the lowest failing rank.
inline void agree(MPI_Comm comm, std::optional<std::string> const& local_error) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  int size = 1;
  MPI_Comm_size(comm, &size);
  int const mine = local_error ? rank : size;
  int first = size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) {
    return;
  }
  std::string message = first == rank ? *local_error : std::string();
  unsigned long long length = message.size();
  MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, first, comm);
  message.resize(length);
  MPI_Bcast(message.data(), static_cast<int>(length), MPI_CHAR, first, comm);
  if (size > 1 && first != rank) {
    fail_collective(concat(message, " (reported by rank ", first, ")"));
  }
  fail_collective(message);
}

/// Runs `f` on every rank; if it throws loom::Error on any rank, every rank throws that
/// message (the lowest failing rank's). Other exceptions pass through unchanged.
template <class F>
auto collectively(MPI_Comm comm, F&& f) -> decltype(f()) {
  std::optional<std::string> error;
  if constexpr (std::is_void_v<decltype(f())>) {
    try {
      f();
    } catch (Error const& e) {
      error = e.what();
    }
    agree(comm, error);
  } else {
    std::optional<decltype(f())> result;
    try {
      result.emplace(f());
    } catch (Error const& e) {
      error = e.what();
    }
    agree(comm, error);
    return std::move(*result);
  }
}
#endif

/// A configuration as named fields, to compare across ranks.
struct Configuration {
  std::vector<std::pair<std::string, std::string>> fields;
  void add(std::string name, std::string value) {
    fields.emplace_back(std::move(name), std::move(value));
  }
  std::string serialize() const {
    std::string out;
    for (auto const& [name, value] : fields) {
      out += name;
      out += '\0';
      out += value;
      out += '\0';
    }
    return out;
  }
};

#if defined(LOOM_ENABLE_MPI)
/// Every rank checks its configuration against rank 0's; on a difference every rank throws a
/// message naming the first differing rank and field.
inline void check_same_configuration(MPI_Comm comm, Configuration const& local, char const* who) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  std::string root = local.serialize();
  unsigned long long length = root.size();
  MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, 0, comm);
  root.resize(length);
  MPI_Bcast(root.data(), static_cast<int>(length), MPI_CHAR, 0, comm);
  std::optional<std::string> error;
  if (root != local.serialize()) {
    // Parse rank 0's fields and find the first that differs.
    std::vector<std::pair<std::string, std::string>> theirs;
    std::size_t at = 0;
    while (at < root.size()) {
      std::size_t const name_end = root.find('\0', at);
      std::size_t const value_end = root.find('\0', name_end + 1);
      theirs.emplace_back(root.substr(at, name_end - at),
                          root.substr(name_end + 1, value_end - name_end - 1));
      at = value_end + 1;
    }
    std::string field = "the list of fields", ours_value = "?", root_value = "?";
    for (std::size_t i = 0; i < local.fields.size() && i < theirs.size(); ++i) {
      if (local.fields[i] != theirs[i]) {
        field = local.fields[i].first;
        ours_value = local.fields[i].second;
        root_value = theirs[i].second;
        break;
      }
    }
    error = concat(who, ": rank ", rank, " runs with ", field, " = ", ours_value,
                   " but rank 0 with ", field, " = ", root_value,
                   "; every rank must run the same program with the same options and data");
  }
  agree(comm, error);
}
#endif

} // namespace loom::detail
