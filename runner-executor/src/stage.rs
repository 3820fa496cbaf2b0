//! Stage ids and their headers (executors.md §1.2).

use std::fmt;

/// One stage of a job; its id is also the trace section name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Stage {
    /// `prepare_script`.
    PrepareScript,
    /// `get_sources`.
    GetSources,
    /// `clear_worktree`.
    ClearWorktree,
    /// `restore_cache`.
    RestoreCache,
    /// `download_artifacts`.
    DownloadArtifacts,
    /// `step_<name>`.
    Step(String),
    /// `after_script`.
    AfterScript,
    /// `archive_cache`.
    ArchiveCache,
    /// `archive_cache_on_failure`.
    ArchiveCacheOnFailure,
    /// `upload_artifacts_on_success`.
    UploadArtifactsOnSuccess,
    /// `upload_artifacts_on_failure`.
    UploadArtifactsOnFailure,
    /// `cleanup_file_variables`.
    CleanupFileVariables,
}

impl Stage {
    /// The stage id, e.g. `step_script`.
    pub fn id(&self) -> String {
        match self {
            Self::PrepareScript => "prepare_script".to_owned(),
            Self::GetSources => "get_sources".to_owned(),
            Self::ClearWorktree => "clear_worktree".to_owned(),
            Self::RestoreCache => "restore_cache".to_owned(),
            Self::DownloadArtifacts => "download_artifacts".to_owned(),
            Self::Step(name) => format!("step_{name}"),
            Self::AfterScript => "after_script".to_owned(),
            Self::ArchiveCache => "archive_cache".to_owned(),
            Self::ArchiveCacheOnFailure => "archive_cache_on_failure".to_owned(),
            Self::UploadArtifactsOnSuccess => "upload_artifacts_on_success".to_owned(),
            Self::UploadArtifactsOnFailure => "upload_artifacts_on_failure".to_owned(),
            Self::CleanupFileVariables => "cleanup_file_variables".to_owned(),
        }
    }

    /// The bold cyan header printed first in the section.
    pub fn header(&self) -> String {
        match self {
            Self::PrepareScript => "Preparing environment".to_owned(),
            Self::GetSources => "Getting source from Git repository".to_owned(),
            Self::ClearWorktree => {
                "Deleting all tracked and untracked files due to source fetch failure".to_owned()
            }
            Self::RestoreCache => "Restoring cache".to_owned(),
            Self::DownloadArtifacts => "Downloading artifacts".to_owned(),
            Self::Step(_) => format!("Executing \"{}\" stage of the job script", self.id()),
            Self::AfterScript => "Running after_script".to_owned(),
            Self::ArchiveCache => "Saving cache for successful job".to_owned(),
            Self::ArchiveCacheOnFailure => "Saving cache for failed job".to_owned(),
            Self::UploadArtifactsOnSuccess => "Uploading artifacts for successful job".to_owned(),
            Self::UploadArtifactsOnFailure => "Uploading artifacts for failed job".to_owned(),
            Self::CleanupFileVariables => {
                "Cleaning up project directory and file based variables".to_owned()
            }
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}
