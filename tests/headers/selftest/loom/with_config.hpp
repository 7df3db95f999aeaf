#pragma once

#include <loom/config.hpp>

#if defined(LOOM_ENABLE_EXAMPLE)
inline constexpr bool with_config = true;
#endif
