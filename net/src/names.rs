//! Names of request headers read on every request that `http` has no constant for.
//! A `&str` name is parsed (and checked) again at every lookup; these are parsed once.

use http::HeaderName;

/// Fetch metadata: how the browser means to use the response (`navigate`, `cors`…).
pub const SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");
/// Fetch metadata: what the response becomes (`document`, `script`…).
pub const SEC_FETCH_DEST: HeaderName = HeaderName::from_static("sec-fetch-dest");
/// Fetch metadata: the initiator's relation to the target (`same-origin`, `cross-site`…).
pub const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
/// The scheme the client used, as told by a proxy in front.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// Set by script libraries on their requests (`XMLHttpRequest`).
pub const X_REQUESTED_WITH: HeaderName = HeaderName::from_static("x-requested-with");
