//! `allowed_images` and `allowed_services` of the container executors (executors.md §7.1
//! step 6, §7.5; Kubernetes keys of the same names): a job may only name images that match
//! one of the runner's doublestar patterns; the runner's own images (its default image, its
//! configured services) are always allowed. One definition, so Docker and Kubernetes refuse
//! with the same lines.

use globset::GlobBuilder;

use crate::TraceWriter;

/// Which list is checked, as the trace names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowList {
    /// `allowed_images`, for the job's image.
    Images,
    /// `allowed_services`, for the job's services.
    Services,
}

impl AllowList {
    fn noun(self) -> &'static str {
        match self {
            Self::Images => "images",
            Self::Services => "services",
        }
    }
}

/// Whether `image` matches `pattern` as doublestar does: `*` and `?` stay within one path
/// segment, `**` crosses them, `[...]` and `{a,b}` work. An invalid pattern matches nothing.
pub fn matches(pattern: &str, image: &str) -> bool {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .is_ok_and(|glob| glob.compile_matcher().is_match(image))
}

/// Whether `image` may run: `allowed` is empty, a pattern matches, or it is one of the
/// runner's own `internal` images.
pub fn is_allowed(image: &str, allowed: &[String], internal: &[&str]) -> bool {
    allowed.is_empty()
        || allowed.iter().any(|pattern| matches(pattern, image))
        || internal.contains(&image)
}

/// Checks `image` against `allowed`. A refusal lists the patterns in the trace with
/// upstream's words and returns `false`; the executor then fails with its own
/// `disallowed image` error.
pub async fn check(
    list: AllowList,
    image: &str,
    allowed: &[String],
    internal: &[&str],
    trace: &mut TraceWriter,
) -> bool {
    if is_allowed(image, allowed, internal) {
        return true;
    }
    trace.write(b"\n").await;
    trace
        .error(&format!(
            "The \"{image}\" image is not present on list of allowed {}:",
            list.noun()
        ))
        .await;
    for pattern in allowed {
        trace.write(format!("- {pattern}\n").as_bytes()).await;
    }
    trace.write(b"\n").await;
    // Upstream names `allowed_images` here for services too; users search for this line.
    trace
        .write(
            b"Please check runner's allowed_images configuration: \
              https://docs.gitlab.com/runner/configuration/advanced-configuration/\n",
        )
        .await;
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doublestar_patterns() {
        assert!(matches("ruby:*", "ruby:3.3"));
        assert!(!matches("ruby:*", "ruby/x:3"));
        assert!(matches("*/*:*", "library/ruby:3"));
        assert!(matches(
            "registry.example.com/**",
            "registry.example.com/a/b/c:1"
        ));
        assert!(!matches(
            "registry.example.com/*",
            "registry.example.com/a/b:1"
        ));
        assert!(matches("{alpine,debian}:*", "debian:12"));
        assert!(matches("postgres:1?", "postgres:16"));
        assert!(!matches("alpine:*", "ruby:3"));
        assert!(!matches("[", "["), "an invalid pattern matches nothing");
    }

    async fn run_check(
        list: AllowList,
        image: &str,
        allowed: &[&str],
        internal: &[&str],
    ) -> (bool, String) {
        let (sender, mut receiver) = tokio::sync::mpsc::channel(64);
        let mut trace = TraceWriter::builder(sender).build();
        let allowed: Vec<String> = allowed.iter().map(|p| (*p).to_owned()).collect();
        let result = check(list, image, &allowed, internal, &mut trace).await;
        trace.finish().await;
        let mut text = Vec::new();
        while let Some(chunk) = receiver.recv().await {
            text.extend_from_slice(&chunk);
        }
        (result, String::from_utf8_lossy(&text).into_owned())
    }

    #[tokio::test]
    async fn refusal_lists_the_patterns_in_upstreams_words() {
        let (allowed, text) =
            run_check(AllowList::Images, "ruby:3", &["alpine:*", "debian:*"], &[]).await;
        assert!(!allowed);
        assert_eq!(
            text,
            "\n\x1b[31;1mERROR: The \"ruby:3\" image is not present on list of allowed images:\x1b[0;m\n\
             - alpine:*\n- debian:*\n\n\
             Please check runner's allowed_images configuration: \
             https://docs.gitlab.com/runner/configuration/advanced-configuration/\n"
        );
        let (allowed, text) = run_check(AllowList::Services, "redis:7", &["postgres:*"], &[]).await;
        assert!(!allowed);
        assert!(
            text.contains("not present on list of allowed services:"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn matches_internal_images_and_empty_lists_pass() {
        assert!(
            run_check(AllowList::Images, "alpine:3", &["alpine:*"], &[])
                .await
                .0
        );
        assert!(
            run_check(AllowList::Images, "ruby:3", &["alpine:*"], &["ruby:3"])
                .await
                .0
        );
        assert!(run_check(AllowList::Services, "anything", &[], &[]).await.0);
    }
}
