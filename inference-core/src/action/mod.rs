//! Action: corpus memory, continuity-aware navigation and the real-time grain scheduler.
