//! `allowed_images` and `allowed_services` (executors.md §7.1 step 6, §7.5) through the
//! matcher shared with the Kubernetes executor (`runner_executor::allow_list`), so both refuse
//! with the same lines.

use runner_executor::TraceWriter;
pub(crate) use runner_executor::allow_list::AllowList;

use crate::error::{Error, Result};

/// Checks `image` against `allowed`; an empty list allows everything. A refusal lists the
/// patterns in the trace with upstream's words and fails with `disallowed image`, an error
/// the driver retries like upstream (three `Preparation failed` attempts, then a system
/// failure).
pub(crate) async fn verify(
    list: AllowList,
    image: &str,
    allowed: &[String],
    internal: &[&str],
    trace: &mut TraceWriter,
) -> Result<()> {
    if runner_executor::allow_list::check(list, image, allowed, internal, trace).await {
        Ok(())
    } else {
        Err(Error::DisallowedImage)
    }
}
