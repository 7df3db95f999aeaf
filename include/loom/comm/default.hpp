#pragma once

#include <loom/config.hpp>

#include <loom/comm/mpi.hpp>
#include <loom/comm/self.hpp>

namespace loom::comm {

/// \brief The communicator policy strategies use unless told otherwise: comm::Mpi, or
///        comm::Self where loom is configured without MPI (LOOM_ENABLE_MPI=OFF).
#if defined(LOOM_ENABLE_MPI)
using Default = Mpi;
#else
using Default = Self;
#endif

} // namespace loom::comm
