//! Helpers for black-box tests: start the agent binary and consumer
//! processes, clean up on drop.
