//! Connect JSON (filled in next).
