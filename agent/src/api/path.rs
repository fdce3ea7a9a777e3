//! Resource addresses inside request paths. Generated OpenAPI clients
//! percent-encode the whole `ResourceAddress` (`%2Fcluster%2Fnode%2F...`);
//! the address is decoded before it is matched, and one that decodes to
//! something no address can be is a 400 that says why.

use super::problem::Problem;

/// The resource address in `raw` (a path piece, possibly percent-encoded),
/// decoded, with one leading `/` and no trailing one.
///
/// # Errors
/// It decodes to bytes that are not UTF-8, or to control characters or
/// whitespace, which no resource address has.
pub(super) fn resource(raw: &str) -> Result<String, Problem> {
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| invalid(raw, "it decodes to bytes that are not UTF-8"))?;
    if let Some(c) = decoded
        .chars()
        .find(|c| c.is_control() || c.is_whitespace())
    {
        return Err(invalid(
            raw,
            &format!("it decodes to the character {c:?}, which no resource address has"),
        ));
    }
    let trimmed = decoded.trim_matches('/');
    Ok(format!("/{trimmed}"))
}

fn invalid(raw: &str, why: &str) -> Problem {
    Problem::bad_request(
        "invalid-resource-address",
        "Invalid resource address",
        format!("the resource address {raw:?} in the path is invalid: {why}"),
    )
    .with("ResourceAddress", raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_encoded_slashes_and_rejects_garbage() {
        assert_eq!(
            resource("%2Fcluster%2Fnode%2Fn1%2Fsync%2Fptp-status%2Flock-state").unwrap(),
            "/cluster/node/n1/sync/ptp-status/lock-state"
        );
        assert_eq!(resource("/cluster/node/n1/").unwrap(), "/cluster/node/n1");
        assert_eq!(resource("//cluster%2Fnode").unwrap(), "/cluster/node");
        assert!(resource("/cluster%FF").is_err());
        assert!(resource("/cluster%00node").is_err());
        assert!(resource("/cluster%20node").is_err());
    }
}
