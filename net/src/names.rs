//! Names of request headers read on every request that `http` has no constant for.
//! A `&str` name is parsed (and checked) again at every lookup; these are parsed once.
//! (The headers that say what a request asks, `Sec-Fetch-Mode` and the like, are
//! read by name in one pass: `dcs_proxy::asked`.)

use http::HeaderName;

/// Fetch metadata: the initiator's relation to the target (`same-origin`, `cross-site`…).
pub const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
/// The scheme the client used, as told by a proxy in front.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
