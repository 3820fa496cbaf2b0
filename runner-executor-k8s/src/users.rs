//! `allowed_users` / `allowed_groups` (config-toml.md, `[runners.kubernetes]`): the user a job
//! asks its build container to run as (`image: kubernetes: user: "uid[:gid]"`) must be a
//! numeric ID on the list; an empty list allows any ID but root, which always needs an explicit
//! entry. Entries that are not numbers are skipped with a warning.

/// The build container's `runAsUser` / `runAsGroup` the job asked for, once allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JobUser {
    pub(crate) uid: i64,
    pub(crate) gid: Option<i64>,
}

/// Go's `strconv.ParseInt` and its error text, which users see after `is invalid: `.
fn parse_id(value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .map_err(|_| format!("strconv.ParseInt: parsing \"{value}\": invalid syntax"))
}

/// The numeric entries of `list`; the others are named in `warnings`.
fn numeric(list: &[String], key: &str, warnings: &mut Vec<String>) -> Vec<i64> {
    list.iter()
        .filter_map(|entry| match entry.trim().parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                warnings.push(format!(
                    "{key}: skipping {entry:?}, which is not a numeric ID"
                ));
                None
            }
        })
        .collect()
}

fn check(
    kind: &str,
    value: &str,
    list: &[String],
    key: &str,
    warnings: &mut Vec<String>,
) -> Result<i64, String> {
    let id = parse_id(value).map_err(|e| format!("{kind} \"{value}\" is invalid: {e}"))?;
    let allowed = numeric(list, key, warnings);
    let ok = if allowed.is_empty() {
        id != 0
    } else {
        allowed.contains(&id)
    };
    if ok {
        Ok(id)
    } else {
        Err(format!(
            "{kind} \"{value}\" is not in the allowed list: [{}]",
            list.join(" ")
        ))
    }
}

/// Checks the job's `uid[:gid]` request; `None` when it asked for nothing.
pub(crate) fn job_user(
    request: &str,
    allowed_users: &[String],
    allowed_groups: &[String],
    warnings: &mut Vec<String>,
) -> Result<Option<JobUser>, String> {
    let request = request.trim();
    if request.is_empty() {
        return Ok(None);
    }
    let (user, group) = match request.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (request, None),
    };
    let uid = check("user", user, allowed_users, "allowed_users", warnings)?;
    let gid = group
        .map(|group| check("group", group, allowed_groups, "allowed_groups", warnings))
        .transpose()?;
    Ok(Some(JobUser { uid, gid }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn empty_lists_allow_any_id_but_root() {
        let mut warnings = Vec::new();
        assert_eq!(
            job_user("1000:1000", &[], &[], &mut warnings).unwrap(),
            Some(JobUser {
                uid: 1000,
                gid: Some(1000)
            })
        );
        assert_eq!(
            job_user("0", &[], &[], &mut warnings).unwrap_err(),
            "user \"0\" is not in the allowed list: []"
        );
        assert_eq!(
            job_user("1000:00", &[], &[], &mut warnings).unwrap_err(),
            "group \"00\" is not in the allowed list: []"
        );
        assert_eq!(job_user("", &[], &[], &mut warnings).unwrap(), None);
    }

    #[test]
    fn lists_are_numeric_ids_and_root_needs_an_entry() {
        let mut warnings = Vec::new();
        let users = list(&["1000", "0", "builder"]);
        assert_eq!(
            job_user("0", &users, &[], &mut warnings).unwrap(),
            Some(JobUser { uid: 0, gid: None })
        );
        assert_eq!(
            warnings,
            ["allowed_users: skipping \"builder\", which is not a numeric ID"]
        );
        assert_eq!(
            job_user("1001", &users, &[], &mut Vec::new()).unwrap_err(),
            "user \"1001\" is not in the allowed list: [1000 0 builder]"
        );
        assert_eq!(
            job_user("root", &users, &[], &mut Vec::new()).unwrap_err(),
            "user \"root\" is invalid: strconv.ParseInt: parsing \"root\": invalid syntax"
        );
        assert_eq!(
            job_user("1000:2000", &users, &list(&["1000"]), &mut Vec::new()).unwrap_err(),
            "group \"2000\" is not in the allowed list: [1000]"
        );
    }
}
