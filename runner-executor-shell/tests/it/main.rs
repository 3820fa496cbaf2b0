//! Integration tests of the shell executor with real bash and git.

mod cancel;
mod git;
mod jobs;
mod sh;
mod support;
mod transfer;
mod user;
mod variable_keys;
