//! Perception: audio to segments to encoder frames to pooled vectors to one token per segment.
