#pragma once

// Caught by check_config_include.cmake: tests configuration macros without <loom/config.hpp>.

#if defined(LOOM_HAVE_EXAMPLE) || defined(LOOM_ENABLE_EXAMPLE)
inline constexpr bool example = true;
#endif
