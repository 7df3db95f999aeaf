#pragma once

// Not caught: LOOM_HAVE_EXAMPLE is only named in comments.
/* Neither is LOOM_ENABLE_EXAMPLE here.
   #include <loom/config.hpp> in a comment does not count either. */

inline constexpr int comment_only = 0; // LOOM_ENABLE_EXAMPLE
